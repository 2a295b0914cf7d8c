# SPDX-License-Identifier: MIT
"""Tests of the ddoscoo API simulator itself.

Run: /usr/bin/python3 -m pytest tests/simulator -q

The simulator runs as a real subprocess (as the plugin's end-to-end tests
use it); requests are made with a small urllib client defined here.
"""

import base64
import datetime
import hashlib
import hmac
import http.client
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import ddoscoo_sim as sim

SIM_SCRIPT = Path(__file__).with_name("ddoscoo_sim.py")
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable

INST1 = "ddoscoo-cn-sim0001"
INST2 = "ddoscoo-cn-sim0002"
BASE_CONFIG = {
    "keys": {"testid": {"secret": "testsecret"},
             "stsid": {"secret": "s2", "token": "tok123"}},
    "instances": [INST1, INST2],
    "regions": ["cn-hangzhou", "ap-southeast-1"],
    "faults": {"ddoscoo-cn-bad": {"mode": "http503", "count": 2}},
}
SECRETS = {"testid": "testsecret", "stsid": "s2"}


# ---------------------------------------------------------------------------
# Running simulator
# ---------------------------------------------------------------------------

class RunningSim:
    def __init__(self, workdir, config, extra_args=(), metadata=False):
        workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = workdir / "scenario.json"
        self.config_path.write_text(json.dumps(config))
        self.log_path = workdir / "requests.jsonl"
        self.port_file = workdir / "port"
        self.md_port_file = workdir / "md-port"
        if metadata:
            extra_args = tuple(extra_args) + ("--metadata-port-file", str(self.md_port_file))
        # stderr goes to a file: a pipe nobody drains could fill and block it.
        self.stderr_path = workdir / "stderr.txt"
        self._stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(
            [PYTHON, str(SIM_SCRIPT), "--config", str(self.config_path), "--log",
             str(self.log_path), "--port", "0", "--port-file", str(self.port_file),
             *extra_args],
            stdout=subprocess.PIPE, stderr=self._stderr, text=True)
        deadline = time.monotonic() + 10
        while not self.port_file.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                raise RuntimeError("simulator did not start: %s" % self.stderr_path.read_text())
            time.sleep(0.02)
        self.port = int(self.port_file.read_text())
        self.banner = self.proc.stdout.readline().strip()
        self.md_port = int(self.md_port_file.read_text()) if metadata else None
        scheme = "https" if "--tls-cert" in extra_args else "http"
        self.base = "%s://127.0.0.1:%d" % (scheme, self.port)

    def log_entries(self):
        return [json.loads(line) for line in self.log_path.read_text().splitlines()]

    def stop(self):
        """SIGTERM; the exit status (None if it had to be killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None
        finally:
            self.proc.stdout.close()
            self._stderr.close()
            # Any traceback means a handler crashed somewhere.
            assert "Traceback" not in self.stderr_path.read_text()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = RunningSim(tmp_path_factory.mktemp("sim"), BASE_CONFIG)
    yield s
    assert s.stop() == 0


@pytest.fixture
def start_sim(tmp_path):
    """Factory for simulators private to one test (runtime state changes)."""
    started = []

    def start(config=BASE_CONFIG, extra_args=(), metadata=False):
        s = RunningSim(tmp_path / ("sim%d" % len(started)), config, extra_args, metadata)
        started.append(s)
        return s

    yield start
    for s in started:
        assert s.stop() == 0


# ---------------------------------------------------------------------------
# Client
# ---------------------------------------------------------------------------

def utc_timestamp(offset=0):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def make_params(key="testid", **overrides):
    """A valid request's parameters; override with value None to drop one."""
    end = int(time.time()) // 60 * 60
    params = {
        "Action": "DescribePortConnsCount", "Version": "2020-01-01", "Format": "XML",
        "AccessKeyId": key, "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0",
        "SignatureNonce": uuid.uuid4().hex, "Timestamp": utc_timestamp(),
        "StartTime": str(end - 300), "EndTime": str(end), "InstanceIds.1": INST1,
    }
    if key == "stsid":
        params["SecurityToken"] = "tok123"
    for k, v in overrides.items():
        k = k.replace("__", ".")  # InstanceIds__2 -> InstanceIds.2
        if v is None:
            params.pop(k, None)
        else:
            params[k] = v
    return params


def encode(params):
    return "&".join(sim.percent_encode(k) + "=" + sim.percent_encode(v) for k, v in params.items())


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def xml(self):
        return ET.fromstring(self.body)

    def code(self):
        if self.headers.get("Content-Type", "").startswith("application/json"):
            return json.loads(self.body)["Code"]
        return self.xml().findtext("Code")

    def message(self):
        if self.headers.get("Content-Type", "").startswith("application/json"):
            return json.loads(self.body)["Message"]
        return self.xml().findtext("Message")


def call(server, params, method="GET", secret=None, form=False, sign=True):
    """Sign (unless told not to) and send; form=True puts params in a
    form body (urlencode, so spaces travel as '+')."""
    params = dict(params)
    if sign:
        secret = secret if secret is not None else SECRETS[params["AccessKeyId"]]
        params["Signature"] = sim.sign_v1(method, params, secret)[1]
    url, data, headers = server.base + "/", None, {}
    if form:
        data = urllib.parse.urlencode(params).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    else:
        url += "?" + encode(params)
        if method == "POST":
            data = b""
    return send(url, method, data, headers)


def send(url, method="GET", data=None, headers=None, context=None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10, context=context) as r:
            return Response(r.status, r.headers, r.read())
    except urllib.error.HTTPError as e:
        return Response(e.code, e.headers, e.read())


def raw(server, method, target, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(method, target, body=body, headers=headers or {})
        r = conn.getresponse()
        return Response(r.status, r.headers, r.read())
    finally:
        conn.close()


def assert_error(resp, status, code, mentions=None):
    assert resp.status == status, resp.body
    assert resp.code() == code, resp.body
    if mentions:
        assert mentions in resp.message(), resp.message()


def check_success(resp, ids, port=None):
    assert resp.status == 200, resp.body
    assert resp.headers["Content-Type"] == "text/xml;charset=UTF-8"
    assert resp.headers["Date"]
    root = resp.xml()
    assert root.tag == "DescribePortConnsCountResponse"
    assert sorted(c.tag for c in root) == ["ActConns", "Conns", "Cps", "InActConns", "RequestId"]
    assert re.fullmatch(r"[0-9A-F]{8}(-[0-9A-F]{4}){3}-[0-9A-F]{12}", root.findtext("RequestId"))
    got = {k: int(root.findtext(k)) for k in ("Conns", "ActConns", "InActConns", "Cps")}
    return got


# ---------------------------------------------------------------------------
# Pure functions
# ---------------------------------------------------------------------------

def test_official_signature_example():
    params = {
        "AccessKeyId": "testid", "Action": "DescribeRegions", "Format": "XML",
        "SignatureMethod": "HMAC-SHA1", "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "SignatureVersion": "1.0", "Timestamp": "2016-02-23T12:46:24Z", "Version": "2014-05-26",
    }
    sts, sig = sim.sign_v1("GET", params, "testsecret")
    assert sts == ("GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML"
                   "%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-"
                   "4e0ad82fd6cf%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46"
                   "%253A24Z%26Version%3D2014-05-26")
    assert sig == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
    assert sim.percent_encode(sig) == "OLeaidS1JvxuMvnyHOwuJ%2BuX5qY%3D"
    # The documented pitfall: keying without the trailing '&' is wrong.
    wrong = base64.b64encode(hmac.new(b"testsecret", sts.encode(), hashlib.sha1).digest()).decode()
    assert wrong == "R8VkbeU3DqhHmAVCdxW/CjqsRK0=" != sig
    # Insertion order of the dict must not matter.
    assert sim.sign_v1("GET", dict(reversed(list(params.items()))), "testsecret") == (sts, sig)


def test_sdk_signature_vector_empty_method():
    assert sim.sign_v1("", {"test": "ok"}, "accessKeySecret") == (
        "&%2F&test%3Dok", "jHx/oHoHNrbVfhncHEvPdHXZwHU=")


def test_percent_encode_rules():
    assert sim.percent_encode("a b*c~d-_.") == "a%20b%2Ac~d-_."
    assert sim.percent_encode("é/+=&") == "%C3%A9%2F%2B%3D%26"


def test_parse_urlencoded_is_strict():
    assert sim.parse_urlencoded(b"a=b+c&d=%C3%A9%2a&e") == [("a", "b c"), ("d", "é*"), ("e", "")]
    for bad in (b"a=%ZZ", b"a=%4", b"a=%FF", b"a=1&&b=2", b"=x", b"a=b c", b"a=\xc3\xa9", b"a=#"):
        with pytest.raises(sim.DecodeError):
            sim.parse_urlencoded(bad)


# ---------------------------------------------------------------------------
# Successful requests
# ---------------------------------------------------------------------------

def test_signed_get_succeeds(server):
    p = make_params()
    r = call(server, p, "GET")
    got = check_success(r, [INST1])
    assert got == sim.values_for([INST1], None, int(p["StartTime"]), int(p["EndTime"]))
    assert r.headers["x-acs-request-id"] == r.xml().findtext("RequestId")


def test_signed_post_form_body_succeeds(server):
    # Space, '*', '~' and non-ASCII in a signed value, sent in a form body
    # (spaces as '+'); two instances and a Port.
    p = make_params(InstanceIds__2=INST2, Port="80", ResourceGroupId="rg test*~é",
                    RegionId="ap-southeast-1")
    got = check_success(call(server, p, "POST", form=True), [INST1, INST2])
    assert got == sim.values_for([INST1, INST2], "80", int(p["StartTime"]), int(p["EndTime"]))


def test_signed_post_query_only_succeeds(server):
    # What the current SDKs do: POST with everything in the query string.
    p = make_params()
    got = check_success(call(server, p, "POST"), [INST1])
    assert got == sim.values_for([INST1], None, int(p["StartTime"]), int(p["EndTime"]))


def test_post_signed_as_get_is_rejected(server):
    p = make_params()
    p["Signature"] = sim.sign_v1("GET", p, "testsecret")[1]
    assert_error(call(server, p, "POST", sign=False), 400, "SignatureDoesNotMatch")


def test_format_absent_gives_json(server):
    p = make_params(Format=None)
    r = call(server, p)
    assert r.status == 200 and r.headers["Content-Type"].startswith("application/json")
    doc = json.loads(r.body)
    assert {k: doc[k] for k in ("Conns", "ActConns", "InActConns", "Cps")} == \
        sim.values_for([INST1], None, int(p["StartTime"]), int(p["EndTime"]))
    # Errors follow the requested format too.
    r = call(server, make_params(Format=None, Port="0"))
    assert r.status == 400 and json.loads(r.body)["Code"] == "InvalidParameter"


def test_sts_token_accepted(server):
    check_success(call(server, make_params(key="stsid")), [INST1])


def test_child_order_varies(server):
    orders = set()
    for _ in range(12):
        r = call(server, make_params())
        orders.add(tuple(c.tag for c in r.xml()))
    assert len(orders) > 1


# ---------------------------------------------------------------------------
# Rejections
# ---------------------------------------------------------------------------

def test_bad_signature(server):
    p = make_params()
    r = call(server, p, secret="wrongsecret")
    assert_error(r, 400, "SignatureDoesNotMatch")
    # The message carries the server's StringToSign, as the real API does.
    assert r.message().endswith("server string to sign is:" + sim.sign_v1("GET", p, "x")[0])


def test_reused_nonce(server):
    p = make_params()
    assert call(server, p).status == 200
    p2 = make_params(SignatureNonce=p["SignatureNonce"])
    assert_error(call(server, p2), 400, "SignatureNonceUsed")


def test_forged_request_does_not_burn_nonce(server):
    p = make_params()
    assert_error(call(server, p, secret="nope"), 400, "SignatureDoesNotMatch")
    assert call(server, p).status == 200


@pytest.mark.parametrize("offset", [-16 * 60, 16 * 60])
def test_stale_timestamp(server, offset):
    assert_error(call(server, make_params(Timestamp=utc_timestamp(offset))),
                 400, "InvalidTimeStamp.Expired")


@pytest.mark.parametrize("ts", ["2024-01-01 00:00:00", "2024-01-01T00:00:00.000Z",
                                "2024-01-01T00:00:00+00:00", "2024-13-01T00:00:00Z", "1700000000"])
def test_malformed_timestamp(server, ts):
    assert_error(call(server, make_params(Timestamp=ts)), 400, "InvalidTimeStamp.Format")


def test_non_minute_start_time(server):
    p = make_params()
    p["StartTime"] = str(int(p["StartTime"]) + 1)
    assert_error(call(server, p), 400, "InvalidParameter", "StartTime")


# Integers: seconds from the request's own EndTime, taken when the test
# runs (not when pytest collects, maybe minutes before).
@pytest.mark.parametrize("overrides,mentions", [
    ({"EndTime": 600}, "EndTime"),          # future
    ({"StartTime": -86460}, "EndTime"),     # > 1 day
    ({"StartTime": 0}, "StartTime"),        # start == end
    ({"StartTime": "-60"}, "StartTime"),
    ({"EndTime": "01700000000"}, "EndTime"),
])
def test_bad_time_range(server, overrides, mentions):
    p = make_params()
    end = int(p["EndTime"])
    p.update({k: str(end + v) if isinstance(v, int) else v for k, v in overrides.items()})
    assert_error(call(server, p), 400, "InvalidParameter", mentions)


def test_empty_parameter(server):
    assert_error(call(server, make_params(ResourceGroupId="")), 400, "InvalidParameter",
                 "ResourceGroupId")


@pytest.mark.parametrize("name", ["Foo", "InstanceIds.0", "InstanceIds.01", "instanceids.1"])
def test_unknown_parameter(server, name):
    p = make_params()
    p[name] = "x"
    assert_error(call(server, p), 400, "InvalidParameter", name)


@pytest.mark.parametrize("name", ["Action", "Signature", "SignatureNonce", "Timestamp"])
def test_missing_common_parameter(server, name):
    p = make_params(**{name: None})
    r = call(server, p, sign=name != "Signature")
    assert_error(r, 400, "MissingParameter", name)


def test_missing_instance_ids(server):
    assert_error(call(server, make_params(InstanceIds__1=None)), 400, "MissingParameter",
                 "InstanceIds.1")


def test_gap_in_instance_ids(server):
    p = make_params(InstanceIds__3=INST2)
    assert_error(call(server, p), 400, "InvalidParameter", "InstanceIds.2")


def test_too_many_instance_ids(server):
    p = make_params(**{"InstanceIds__%d" % i: INST1 for i in range(1, 102)})
    assert_error(call(server, p), 400, "InvalidParameter", "InstanceIds")


def test_unknown_instance(server):
    assert_error(call(server, make_params(InstanceIds__1="ddoscoo-cn-nope")), 400,
                 "InvalidInstance.NotFound")


@pytest.mark.parametrize("port", ["0", "080", "65536", "+80", "-1", "http", "8 0"])
def test_bad_port(server, port):
    assert_error(call(server, make_params(Port=port)), 400, "InvalidParameter", "Port")


@pytest.mark.parametrize("key,token,code", [
    ("stsid", "wrong", "InvalidSecurityToken.Mismatch"),
    ("stsid", None, "InvalidSecurityToken.Missing"),
    ("testid", "tok123", "InvalidSecurityToken.Malformed"),
])
def test_wrong_token(server, key, token, code):
    assert_error(call(server, make_params(key=key, SecurityToken=token)), 400, code)


@pytest.mark.parametrize("overrides,status,code", [
    ({"AccessKeyId": "nosuchkey"}, 404, "InvalidAccessKeyId.NotFound"),
    ({"SignatureMethod": "HMAC-SHA256"}, 400, "InvalidParameter"),
    ({"SignatureVersion": "2.0"}, 400, "IncompleteSignature"),
    ({"Version": "2014-05-26"}, 400, "InvalidVersion"),
    ({"Action": "DescribePortConnsList"}, 404, "InvalidAction.NotFound"),
    ({"Format": "xml"}, 400, "InvalidParameter"),
    ({"RegionId": "cn-beijing"}, 400, "InvalidRegionId"),
])
def test_other_rejections(server, overrides, status, code):
    r = call(server, make_params(**overrides), secret="testsecret")
    assert_error(r, status, code)


@pytest.mark.parametrize("query", ["Action=%ZZ", "Action=%FF", "Action=a&Action=a", "a=1&&b=2"])
def test_undecodable_or_duplicate_query(server, query):
    assert_error(raw(server, "GET", "/?" + query), 400, "InvalidParameter")


def test_duplicate_across_query_and_body(server):
    p = make_params()
    p["Signature"] = sim.sign_v1("POST", p, "testsecret")[1]
    r = raw(server, "POST", "/?" + encode(p), body="Action=DescribePortConnsCount",
            headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_error(r, 400, "InvalidParameter", "Action")


def test_other_path_is_404(server):
    r = raw(server, "GET", "/foo?" + encode(make_params()))
    assert r.status == 404 and r.xml().tag == "Error"


# ---------------------------------------------------------------------------
# Faults, control endpoints, log
# ---------------------------------------------------------------------------

def test_fault_with_count_applies_then_clears(server):
    p = lambda: make_params(InstanceIds__1=INST1, InstanceIds__2="ddoscoo-cn-bad")
    assert_error(call(server, p()), 503, "ServiceUnavailable")
    assert_error(call(server, p()), 503, "ServiceUnavailable")
    check_success(call(server, p()), [INST1, "ddoscoo-cn-bad"])


def test_post_sim_faults_changes_behaviour(start_sim):
    s = start_sim()
    check_success(call(s, make_params(InstanceIds__1=INST2)), [INST2])
    faults = {INST2: {"mode": "throttle", "retry_after_ms": 1500}}
    r = send(s.base + "/_sim/faults", "POST", json.dumps(faults).encode())
    assert (r.status, r.body) == (200, b"ok")
    r = call(s, make_params(InstanceIds__1=INST2))
    assert_error(r, 400, "Throttling.User", "flow control")
    assert r.headers["x-acs-retry-after"] == "1500"
    assert send(s.base + "/_sim/faults", "POST", b"{}").status == 200
    check_success(call(s, make_params(InstanceIds__1=INST2)), [INST2])
    assert send(s.base + "/_sim/faults", "POST", b'{"x": {"mode": "nope"}}').status == 400
    assert send(s.base + "/_sim/health").body == b"ok"


def test_fault_headers(start_sim):
    limit = "Limit:10,Remain:0,TimeLeft:1800,Reset:1700000000000"
    cfg = dict(BASE_CONFIG, faults={
        INST1: {"mode": "throttle", "retry_after_ms": 1500,
                "headers": {"X-RateLimit-User-API": limit, "x-ratelimit-user": "garbage"}},
        INST2: {"mode": "html", "headers": {"x-acs-retry-after": "soon"}},
    })
    s = start_sim(cfg)
    r = call(s, make_params(InstanceIds__1=INST1))
    assert_error(r, 400, "Throttling.User")
    assert r.headers["x-acs-retry-after"] == "1500"
    assert r.headers["x-ratelimit-user-api"] == limit
    assert r.headers["x-ratelimit-user"] == "garbage"
    r = call(s, make_params(InstanceIds__1=INST2))
    assert r.status == 502 and r.headers["x-acs-retry-after"] == "soon"
    for bad in ({"mode": "garbage", "headers": {"x-acs-retry-after": "1"}},
                {"mode": "throttle", "headers": {"Set-Cookie": "x"}},
                {"mode": "throttle", "headers": {"x-acs-retry-after": 100}},
                {"mode": "throttle", "headers": {"x-acs-retry-after": "1\r\nX: y"}},
                {"mode": "throttle", "headers": ["x-acs-retry-after"]}):
        assert send(s.base + "/_sim/faults", "POST", json.dumps({INST1: bad}).encode()).status \
            == 400, bad


def _fault_get(s, mode):
    """Send one request to the instance carrying ``mode``; return the raw
    response pieces or the exception the client met."""
    p = make_params(InstanceIds__1="f-" + mode)
    p["Signature"] = sim.sign_v1("GET", p, "testsecret")[1]
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=5)
    try:
        conn.request("GET", "/?" + encode(p))
        r = conn.getresponse()
        return r.status, r.headers, r.read()
    except (http.client.HTTPException, OSError) as e:
        return e
    finally:
        conn.close()


def test_payload_faults(start_sim):
    modes = ["garbage", "empty", "html", "empty503", "json", "truncated", "reset", "oversize", "entities",
             "xxe", "xxe_net", "wrongroot", "missing", "nonnumeric", "negative", "huge",
             "duplicate", "forbidden", "auth", "clock", "http500", "nonce_used", "hangup",
             "region"]
    cfg = dict(BASE_CONFIG, faults={"f-" + m: {"mode": m} for m in modes})
    cfg["faults"]["f-hang"] = {"mode": "hang", "seconds": 0.3}
    s = start_sim(cfg)
    res = {m: _fault_get(s, m) for m in modes + ["hang"]}

    assert res["garbage"][0] == 200 and res["garbage"][2] == b"this is not xml"
    assert res["empty"][0] == 200 and res["empty"][2] == b""
    assert res["html"][0] == 502 and b"nginx" in res["html"][2]
    assert res["html"][1]["Content-Type"] == "text/html"
    assert res["empty503"][0] == 503 and res["empty503"][2] == b""
    assert "Content-Type" not in res["empty503"][1]
    assert "x-acs-request-id" not in res["empty503"][1]
    assert json.loads(res["json"][2])["Conns"] >= 1000
    assert isinstance(res["truncated"], http.client.IncompleteRead)
    assert isinstance(res["reset"], (ConnectionResetError, http.client.IncompleteRead))
    assert res["oversize"][0] == 200 and len(res["oversize"][2]) > 2 * 1024 * 1024
    assert ET.fromstring(res["oversize"][2]).findtext("Cps") is not None  # well-formed
    assert b"<!ENTITY lol9" in res["entities"][2] and b"&lol9;" in res["entities"][2]
    assert b'SYSTEM "file:///etc/hostname"' in res["xxe"][2]
    assert ('SYSTEM "http://127.0.0.1:%d/_sim/xxe"' % s.port).encode() in res["xxe_net"][2]
    assert ET.fromstring(res["wrongroot"][2]).tag == "DescribeSomethingElseResponse"
    assert ET.fromstring(res["missing"][2]).find("Cps") is None
    assert b"<Conns>12abc</Conns>" in res["nonnumeric"][2]
    assert b"<Conns>-5</Conns>" in res["negative"][2]
    assert b"<Conns>99999999999999999999999</Conns>" in res["huge"][2]
    conns = [c.text for c in ET.fromstring(res["duplicate"][2]).iter("Conns")]
    assert len(conns) == 2 and conns[0] != conns[1]
    assert res["forbidden"][0] == 403 and b"Forbidden.RAM" in res["forbidden"][2]
    assert res["auth"][0] == 404 and b"InvalidAccessKeyId.NotFound" in res["auth"][2]
    assert res["clock"][0] == 400 and b"InvalidTimeStamp.Expired" in res["clock"][2]
    assert res["http500"][0] == 500 and b"InternalError" in res["http500"][2]
    assert res["nonce_used"][0] == 400 and b"SignatureNonceUsed" in res["nonce_used"][2]
    assert res["region"][0] == 400 and b"Region is invalid" in res["region"][2]
    assert isinstance(res["hangup"], http.client.RemoteDisconnected)
    assert res["hang"][0] == 200

    # Nobody resolved the external entity; fetching it is recorded.
    assert all(e["path"] != "/_sim/xxe" for e in s.log_entries())
    assert send(s.base + "/_sim/xxe").body == b"XXE-FETCHED"
    assert any(e["path"] == "/_sim/xxe" for e in s.log_entries())


def test_log_lines(start_sim):
    s = start_sim()
    ok = make_params(key="stsid", InstanceIds__2=INST2, Port="443")
    call(s, ok)
    call(s, make_params(Port="0"))
    entries = s.log_entries()
    assert len(entries) == 2
    first, second = entries
    assert set(first) >= {"time", "method", "path", "params", "status", "code", "fault", "values"}
    assert first["status"] == 200 and first["code"] is None and first["fault"] is None
    assert first["values"] == sim.values_for([INST1, INST2], "443", int(ok["StartTime"]),
                                             int(ok["EndTime"]))
    assert "Signature" not in first["params"] and first["params"]["SecurityToken"] == "***"
    assert first["params"]["InstanceIds.2"] == INST2
    assert (second["status"], second["code"], second["values"]) == (400, "InvalidParameter", None)
    text = s.log_path.read_text()
    assert "tok123" not in text and "testsecret" not in text


# ---------------------------------------------------------------------------
# CLI behaviour
# ---------------------------------------------------------------------------

def test_banner_and_clean_exit(start_sim):
    s = start_sim()
    assert s.banner == "listening on http://127.0.0.1:%d" % s.port
    assert s.stop() == 0


def test_refuses_non_loopback_bind(tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps(BASE_CONFIG))
    r = subprocess.run([PYTHON, str(SIM_SCRIPT), "--config", str(cfg), "--log",
                        str(tmp_path / "l"), "--bind", "0.0.0.0"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode != 0 and "loopback" in r.stderr


def test_tls(start_sim, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                       check=True, capture_output=True, timeout=30)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("openssl not available")
    s = start_sim(extra_args=("--tls-cert", str(cert), "--tls-key", str(key)))
    assert s.banner.startswith("listening on https://127.0.0.1:")
    ctx = ssl.create_default_context(cafile=str(cert))
    ctx.check_hostname = False
    p = make_params()
    p["Signature"] = sim.sign_v1("GET", p, "testsecret")[1]
    r = send(s.base + "/?" + encode(p), context=ctx)
    check_success(r, [INST1])
    # Plain HTTP on the TLS port gets nginx's answer, not the API.
    r = raw(s, "GET", "/?" + encode(make_params()))
    assert r.status == 400 and b"plain HTTP request" in r.body


# ---------------------------------------------------------------------------
# Signature V3 (ACS3-HMAC-SHA256)
# ---------------------------------------------------------------------------

EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_v3_official_signature_example():
    headers = {
        "host": "ecs.cn-shanghai.aliyuncs.com",
        "x-acs-action": "RunInstances",
        "x-acs-content-sha256": EMPTY_SHA256,
        "x-acs-date": "2023-10-26T10:22:32Z",
        "x-acs-signature-nonce": "3156853299f313e23d1673dc12e1703d",
        "x-acs-version": "2014-05-26",
    }
    query = {"ImageId": "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd",
             "RegionId": "cn-shanghai"}
    cr, sts, sig = sim.sign_v3("POST", query, headers, b"", "YourAccessKeySecret")
    assert cr.split("\n")[:3] == ["POST", "/", "ImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_"
                                  "20230811.vhd&RegionId=cn-shanghai"]
    assert cr.endswith("\nx-acs-version:2014-05-26\n\nhost;x-acs-action;x-acs-content-sha256;"
                       "x-acs-date;x-acs-signature-nonce;x-acs-version\n" + EMPTY_SHA256)
    assert hashlib.sha256(cr.encode()).hexdigest() == \
        "7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259"
    assert sts == "ACS3-HMAC-SHA256\n7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259"
    assert sig == "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
    # Header name case, value padding, dict order and a list of pairs
    # for the query do not change anything.
    shuffled = {k.upper(): "  %s " % v for k, v in reversed(list(headers.items()))}
    assert sim.sign_v3("POST", list(reversed(list(query.items()))), shuffled, "",
                       "YourAccessKeySecret") == (cr, sts, sig)


def test_v3_canonical_query_rules():
    assert sim.canonical_query_v3({}) == ""
    assert sim.canonical_query_v3([("b", "x y*~"), ("a", ""), ("é", "/")]) == \
        "%C3%A9=%2F&a=&b=x%20y%2A~"  # sorted by *encoded* name, as in V1
    cr = sim.sign_v3("GET", {}, {"host": "h"}, b"", "k")[0]
    assert cr == "GET\n/\n\nhost:h\n\nhost\n" + EMPTY_SHA256


def v3_params(**overrides):
    """The operation's parameters of a valid V3 request (no common ones)."""
    end = int(time.time()) // 60 * 60
    params = {"Format": "XML", "StartTime": str(end - 300), "EndTime": str(end),
              "InstanceIds.1": INST1}
    for k, v in overrides.items():
        k = k.replace("__", ".")
        if v is None:
            params.pop(k, None)
        else:
            params[k] = v
    return params


def v3_headers(server, key="testid", body=b"", **overrides):
    """The headers of a valid V3 request; x_acs_date=... overrides, None drops."""
    headers = {
        "host": "127.0.0.1:%d" % server.port,
        "x-acs-action": "DescribePortConnsCount",
        "x-acs-version": "2020-01-01",
        "x-acs-date": utc_timestamp(),
        "x-acs-signature-nonce": uuid.uuid4().hex,
        "x-acs-content-sha256": hashlib.sha256(body).hexdigest(),
    }
    if key == "stsid":
        headers["x-acs-security-token"] = "tok123"
    for k, v in overrides.items():
        k = k.replace("_", "-")
        if v is None:
            headers.pop(k, None)
        else:
            headers[k] = v
    return headers


def v3_call(server, params, headers, method="POST", body=b"", key="testid", secret=None,
            signed=None, unsigned=None, auth=None, query=None):
    """Sign ``headers`` (all, or the names listed in ``signed``, which is
    sent as SignedHeaders as given) and send; ``unsigned`` headers are added
    after signing; ``auth`` replaces the whole Authorization header."""
    secret = secret if secret is not None else SECRETS.get(key, "whatever")
    names = sorted(h.lower() for h in headers) if signed is None else list(signed)
    present = {k.lower(): v for k, v in headers.items()}
    usable = [n for n in names if n in present]
    sig = sim.sign_v3(method, params, present, body, secret, usable)[2]
    send_headers = dict(headers)
    send_headers.update(unsigned or {})
    send_headers["Authorization"] = auth if auth is not None else (
        "ACS3-HMAC-SHA256 Credential=%s,SignedHeaders=%s,Signature=%s" % (key, ";".join(names), sig))
    target = "/" + ("?" + encode(params) if params else "") if query is None else query
    return raw(server, method, target, body=body, headers=send_headers)


def test_v3_signed_request_succeeds(server):
    p = v3_params()
    r = v3_call(server, p, v3_headers(server))
    got = check_success(r, [INST1])
    assert got == sim.values_for([INST1], None, int(p["StartTime"]), int(p["EndTime"]))
    assert r.headers["x-acs-request-id"] == r.xml().findtext("RequestId")


def test_v3_get_json_sts_and_encoding(server):
    # GET, Format absent (JSON), an STS key, values needing encoding.
    p = v3_params(Format=None, InstanceIds__2=INST2, Port="443",
                  ResourceGroupId="rg test*~é", RegionId="ap-southeast-1")
    r = v3_call(server, p, v3_headers(server, key="stsid"), method="GET", key="stsid")
    assert r.status == 200 and r.headers["Content-Type"].startswith("application/json"), r.body
    doc = json.loads(r.body)
    assert {k: doc[k] for k in ("Conns", "ActConns", "InActConns", "Cps")} == \
        sim.values_for([INST1, INST2], "443", int(p["StartTime"]), int(p["EndTime"]))


def test_v3_form_body_succeeds(server):
    p = v3_params(InstanceIds__2=INST2, Port="80")
    body = urllib.parse.urlencode(p).encode()
    h = v3_headers(server, body=body, content_type="application/x-www-form-urlencoded")
    got = check_success(v3_call(server, {}, h, body=body), [INST1, INST2])
    assert got == sim.values_for([INST1, INST2], "80", int(p["StartTime"]), int(p["EndTime"]))


def test_v3_bad_signature(server):
    p, h = v3_params(), v3_headers(server)
    r = v3_call(server, p, h, secret="wrongsecret")
    assert_error(r, 400, "SignatureDoesNotMatch")
    cr, sts, _ = sim.sign_v3("POST", p, h, b"", "x")
    msg = r.message()
    assert "\n" not in msg
    assert cr.replace("\n", "\\n") in msg and sts.replace("\n", "\\n") in msg
    # A tampered query (signed values differ from the ones sent) fails too.
    q = v3_params()
    r = v3_call(server, q, v3_headers(server), query="/?" + encode(dict(q, Port="80")))
    assert_error(r, 400, "SignatureDoesNotMatch")
    # So does the right signature for another method.
    h = v3_headers(server)
    sig = sim.sign_v3("GET", p, h, b"", "testsecret")[2]
    auth = "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=%s,Signature=%s" % (
        ";".join(sorted(h)), sig)
    assert_error(v3_call(server, p, h, auth=auth), 400, "SignatureDoesNotMatch")


def test_v3_forged_request_does_not_burn_nonce(server):
    p, h = v3_params(), v3_headers(server)
    assert_error(v3_call(server, p, h, secret="nope"), 400, "SignatureDoesNotMatch")
    check_success(v3_call(server, p, h), [INST1])


SIGNED_ALL = ["host", "x-acs-action", "x-acs-content-sha256", "x-acs-date",
              "x-acs-signature-nonce", "x-acs-version"]


@pytest.mark.parametrize("signed,extra,mentions", [
    ([n for n in SIGNED_ALL if n != "x-acs-date"], {}, "x-acs-date"),        # left out
    ([n for n in SIGNED_ALL if n != "host"], {}, "host"),
    (SIGNED_ALL, {"x-acs-foo": "bar"}, "x-acs-foo"),                        # extra x-acs unsigned
    (SIGNED_ALL, {"Content-Type": "text/plain"}, "content-type"),           # content-type unsigned
    (sorted(SIGNED_ALL + ["x-acs-missing"]), {}, "x-acs-missing"),          # signed, not sent
    (list(reversed(SIGNED_ALL)), {}, "sorted"),
    (SIGNED_ALL + ["x-acs-version"], {}, "sorted"),                          # duplicate
    (["Host"] + SIGNED_ALL[1:], {}, "lower-case"),
    (sorted(SIGNED_ALL + ["authorization"]), {}, "Authorization"),
])
def test_v3_signed_headers_rules(server, signed, extra, mentions):
    r = v3_call(server, v3_params(), v3_headers(server), signed=signed, unsigned=extra)
    assert_error(r, 400, "IncompleteSignature", mentions)


@pytest.mark.parametrize("name", ["x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256",
                                  "x-acs-action", "x-acs-version"])
def test_v3_missing_required_header(server, name):
    h = v3_headers(server, **{name.replace("-", "_"): None})
    assert_error(v3_call(server, v3_params(), h), 400, "MissingParameter", name)


@pytest.mark.parametrize("auth", [
    "ACS3-HMAC-SHA256 Credential=testid, SignedHeaders=host,Signature=" + "a" * 64,
    "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=host,Signature=" + "A" * 64,
    "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=host,Signature=" + "a" * 63,
    "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=host",
    "ACS3-HMAC-SHA256  Credential=testid,SignedHeaders=host,Signature=" + "a" * 64,
    "ACS3-HMAC-SHA256 SignedHeaders=host,Credential=testid,Signature=" + "a" * 64,
    "ACS3-HMAC-SHA256",
])
def test_v3_malformed_authorization(server, auth):
    assert_error(v3_call(server, v3_params(), v3_headers(server), auth=auth), 400,
                 "IncompleteSignature")


@pytest.mark.parametrize("date,code", [
    (-16 * 60, "InvalidTimeStamp.Expired"),  # seconds from when the test runs
    (16 * 60, "InvalidTimeStamp.Expired"),
    ("2024-01-01T00:00:00.000Z", "InvalidTimeStamp.Format"),
    ("Mon, 01 Jan 2024 00:00:00 GMT", "InvalidTimeStamp.Format"),
])
def test_v3_bad_date(server, date, code):
    if isinstance(date, int):
        date = utc_timestamp(date)
    assert_error(v3_call(server, v3_params(), v3_headers(server, x_acs_date=date)), 400, code)


def test_v3_reused_nonce_shared_with_v1(server):
    h = v3_headers(server)
    check_success(v3_call(server, v3_params(), h), [INST1])
    h2 = v3_headers(server, x_acs_signature_nonce=h["x-acs-signature-nonce"])
    assert_error(v3_call(server, v3_params(), h2), 400, "SignatureNonceUsed")
    # A nonce used by a V1 request is used for V3 too, and the other way round.
    p = make_params()
    assert call(server, p).status == 200
    h3 = v3_headers(server, x_acs_signature_nonce=p["SignatureNonce"])
    assert_error(v3_call(server, v3_params(), h3), 400, "SignatureNonceUsed")
    h4 = v3_headers(server)
    check_success(v3_call(server, v3_params(), h4), [INST1])
    assert_error(call(server, make_params(SignatureNonce=h4["x-acs-signature-nonce"])), 400,
                 "SignatureNonceUsed")


def test_v3_body_hash_mismatch(server):
    p = v3_params()
    body = urllib.parse.urlencode(p).encode()
    form = "application/x-www-form-urlencoded"
    # Hash of an empty body, non-empty body sent.
    h = v3_headers(server, body=b"", content_type=form)
    assert_error(v3_call(server, {}, h, body=body), 400, "InvalidParameter", "x-acs-content-sha256")
    # Upper-case hex is not the lower-case hex asked for.
    h = v3_headers(server, body=body, content_type=form)
    h["x-acs-content-sha256"] = h["x-acs-content-sha256"].upper()
    assert_error(v3_call(server, {}, h, body=body), 400, "InvalidParameter", "x-acs-content-sha256")


@pytest.mark.parametrize("name", ["AccessKeyId", "Signature", "SignatureMethod", "SignatureVersion",
                                  "SignatureNonce", "Timestamp", "Version", "Action",
                                  "SecurityToken"])
def test_v3_rejects_v1_parameters(server, name):
    p = v3_params()
    p[name] = make_params(key="stsid")[name] if name != "Signature" else "abc="
    assert_error(v3_call(server, p, v3_headers(server)), 400, "InvalidParameter", name)


@pytest.mark.parametrize("overrides,code", [
    ({"Foo": "x"}, "InvalidParameter"),
    ({"ResourceGroupId": ""}, "InvalidParameter"),
    ({"Port": "0"}, "InvalidParameter"),
    ({"InstanceIds__1": None}, "MissingParameter"),
    ({"Format": "xml"}, "InvalidParameter"),
    ({"RegionId": "cn-beijing"}, "InvalidRegionId"),
])
def test_v3_operation_checks(server, overrides, code):
    assert_error(v3_call(server, v3_params(**overrides), v3_headers(server)), 400, code)


@pytest.mark.parametrize("overrides,status,code", [
    ({"x_acs_action": "DescribePortConnsList"}, 404, "InvalidAction.NotFound"),
    ({"x_acs_version": "2014-05-26"}, 400, "InvalidVersion"),
])
def test_v3_action_and_version_headers(server, overrides, status, code):
    assert_error(v3_call(server, v3_params(), v3_headers(server, **overrides)), status, code)


def test_v3_unknown_key(server):
    assert_error(v3_call(server, v3_params(), v3_headers(server), key="nosuchkey"), 404,
                 "InvalidAccessKeyId.NotFound")


@pytest.mark.parametrize("key,token,code", [
    ("stsid", "wrong", "InvalidSecurityToken.Mismatch"),
    ("stsid", None, "InvalidSecurityToken.Missing"),
    ("testid", "tok123", "InvalidSecurityToken.Malformed"),
])
def test_v3_wrong_token(server, key, token, code):
    h = v3_headers(server, key=key, x_acs_security_token=token)
    assert_error(v3_call(server, v3_params(), h, key=key), 400, code)


def test_v3_token_must_be_signed(server):
    h = v3_headers(server, key="stsid")
    signed = [n for n in sorted(h) if n != "x-acs-security-token"]
    assert_error(v3_call(server, v3_params(), h, key="stsid", signed=signed), 400,
                 "IncompleteSignature", "x-acs-security-token")


def test_v3_log_lines(start_sim):
    s = start_sim()
    p = v3_params(InstanceIds__2=INST2)
    v3_call(s, p, v3_headers(s, key="stsid"), key="stsid")
    v3_call(s, v3_params(), v3_headers(s), secret="bad")
    call(s, make_params())
    v3_call(s, v3_params(), v3_headers(s), query="/?Port=%ZZ")
    ok, bad, v1, undecodable = s.log_entries()
    assert (undecodable["code"], undecodable["params"]) == ("InvalidParameter",
                                                            {"AccessKeyId": "testid"})
    assert ok["signature_version"] == "3" and v1["signature_version"] == "1.0"
    assert ok["status"] == 200 and ok["code"] is None and ok["service"] == "api"
    assert ok["params"]["AccessKeyId"] == "stsid" and ok["params"]["InstanceIds.2"] == INST2
    assert ok["security_token"] == "***"
    assert ok["headers"]["x-acs-security-token"] == "***"
    assert ok["headers"]["x-acs-action"] == "DescribePortConnsCount"
    assert ok["values"] == sim.values_for([INST1, INST2], None, int(p["StartTime"]),
                                          int(p["EndTime"]))
    assert bad["code"] == "SignatureDoesNotMatch" and bad["params"]["AccessKeyId"] == "testid"
    assert "security_token" not in bad
    assert set(v1) >= {"time", "method", "path", "params", "status", "code", "fault", "values",
                       "request_id"}
    text = s.log_path.read_text()
    assert "tok123" not in text and "testsecret" not in text and '"s2"' not in text


# ---------------------------------------------------------------------------
# Expiring keys, keys added at run time
# ---------------------------------------------------------------------------

def test_expired_keys(start_sim):
    now = int(time.time())
    cfg = dict(BASE_CONFIG, keys={
        "oldsts": {"secret": "s", "token": "t", "expires": now - 10},
        "oldak": {"secret": "s", "expires": now - 10},
        "liveak": {"secret": "s", "expires": now + 3600},
    })
    s = start_sim(cfg)
    SECRETS.update({"oldsts": "s", "oldak": "s", "liveak": "s"})
    p = make_params(key="oldsts", SecurityToken="t")
    assert_error(call(s, p), 400, "InvalidSecurityToken.Expired")
    assert_error(call(s, make_params(key="oldak")), 400, "InvalidAccessKeyId.Inactive")
    check_success(call(s, make_params(key="liveak")), [INST1])
    h = v3_headers(s, x_acs_security_token="t")
    assert_error(v3_call(s, v3_params(), h, key="oldsts"), 400, "InvalidSecurityToken.Expired")
    assert_error(v3_call(s, v3_params(), v3_headers(s), key="oldak"), 400,
                 "InvalidAccessKeyId.Inactive")
    check_success(v3_call(s, v3_params(), v3_headers(s), key="liveak"), [INST1])


def test_post_sim_keys(start_sim):
    s = start_sim()
    SECRETS.update({"newak": "n-secret", "newsts": "ns-secret"})
    assert_error(call(s, make_params(key="newak")), 404, "InvalidAccessKeyId.NotFound")
    keys = {"newak": {"secret": "n-secret"},
            "newsts": {"secret": "ns-secret", "token": "ns-token", "expires": time.time() + 60},
            "testid": {"secret": "rotated"}}
    r = send(s.base + "/_sim/keys", "POST", json.dumps(keys).encode())
    assert (r.status, r.body) == (200, b"ok")
    check_success(call(s, make_params(key="newak")), [INST1])
    check_success(call(s, make_params(key="newsts", SecurityToken="ns-token")), [INST1])
    check_success(v3_call(s, v3_params(), v3_headers(s, x_acs_security_token="ns-token"),
                          key="newsts"), [INST1])
    # Replaced: the old secret no longer works, the new one does.
    assert_error(call(s, make_params()), 400, "SignatureDoesNotMatch")
    check_success(call(s, make_params(), secret="rotated"), [INST1])
    listed = json.loads(send(s.base + "/_sim/keys").body)
    assert listed["newsts"]["token"] is True and listed["newak"] == {"token": False, "expires": None}
    for bad in (b"[]", b'{"x": {}}', b'{"x": {"secret": "a", "expires": "soon"}}', b"nope"):
        assert send(s.base + "/_sim/keys", "POST", bad).status == 400
    text = s.log_path.read_text() + json.dumps(listed)
    assert "n-secret" not in text and "ns-token" not in text and "rotated" not in text


# ---------------------------------------------------------------------------
# ECS metadata service
# ---------------------------------------------------------------------------

CRED_PATH = "/latest/meta-data/ram/security-credentials/"
MD_CONFIG = dict(BASE_CONFIG, metadata={"role": "ddoscoo-reader", "lifetime_seconds": 3600,
                                        "require_token": False, "mode": "ok"})


def md(s, method, path, headers=None, timeout=10):
    conn = http.client.HTTPConnection("127.0.0.1", s.md_port, timeout=timeout)
    try:
        conn.request(method, path, headers=headers or {})
        r = conn.getresponse()
        return Response(r.status, r.headers, r.read())
    finally:
        conn.close()


def md_token(s, ttl="60"):
    r = md(s, "PUT", "/latest/api/token", {"X-aliyun-ecs-metadata-token-ttl-seconds": ttl})
    assert r.status == 200, r.body
    return r.body.decode()


def md_set(s, **spec):
    r = send(s.base + "/_sim/metadata", "POST", json.dumps(spec).encode())
    assert r.status == 200, r.body


def utc_epoch(text):
    assert re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z", text), text
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def use_creds(s, creds, v3=False):
    """Call the API with metadata credentials (V1 or V3)."""
    SECRETS[creds["AccessKeyId"]] = creds["AccessKeySecret"]
    if v3:
        h = v3_headers(s, x_acs_security_token=creds["SecurityToken"])
        return v3_call(s, v3_params(), h, key=creds["AccessKeyId"])
    return call(s, make_params(key=creds["AccessKeyId"], SecurityToken=creds["SecurityToken"]))


def test_metadata_token_flow_and_credentials(start_sim):
    s = start_sim(MD_CONFIG, metadata=True)
    assert s.md_port and s.md_port != s.port
    token = md_token(s, "21600")
    assert re.fullmatch(r"[A-Za-z0-9_-]{20,}", token)
    hdr = {"X-aliyun-ecs-metadata-token": token}
    r = md(s, "GET", CRED_PATH, hdr)
    assert (r.status, r.body) == (200, b"ddoscoo-reader")
    r = md(s, "GET", CRED_PATH + "ddoscoo-reader", hdr)
    assert r.status == 200
    creds = json.loads(r.body)
    assert creds["Code"] == "Success"
    assert re.fullmatch(r"STS\.[A-Za-z0-9]+", creds["AccessKeyId"])
    assert creds["AccessKeySecret"] and creds["SecurityToken"]
    exp, upd = utc_epoch(creds["Expiration"]), utc_epoch(creds["LastUpdated"])
    assert exp - upd == 3600 and abs(upd - time.time()) < 5
    # The same set until rotation is due; plain GETs work (require_token false).
    assert json.loads(md(s, "GET", CRED_PATH + "ddoscoo-reader").body) == creds
    # The API accepts it, V1 and V3, with its token only.
    check_success(use_creds(s, creds), [INST1])
    check_success(use_creds(s, creds, v3=True), [INST1])
    assert_error(call(s, make_params(key=creds["AccessKeyId"])), 400,
                 "InvalidSecurityToken.Missing")
    keys = json.loads(send(s.base + "/_sim/keys").body)
    assert keys[creds["AccessKeyId"]] == {"token": True, "expires": exp}

    # Rejections.
    for ttl in (None, "0", "21601", "abc", "-5", "060", ""):
        h = {} if ttl is None else {"X-aliyun-ecs-metadata-token-ttl-seconds": ttl}
        assert md(s, "PUT", "/latest/api/token", h).status == 400, ttl
    assert md(s, "GET", "/latest/api/token").status == 405
    assert md(s, "GET", CRED_PATH, {"X-aliyun-ecs-metadata-token": "bogus"}).status == 401
    assert md(s, "GET", CRED_PATH + "other-role", hdr).status == 404
    assert md(s, "GET", CRED_PATH.rstrip("/"), hdr).status == 404
    assert md(s, "GET", CRED_PATH + "ddoscoo-reader/", hdr).status == 404
    assert md(s, "GET", "/latest/meta-data/instance-id", hdr).status == 404
    assert md(s, "POST", CRED_PATH, hdr).status == 405

    # require_token: plain requests refused, tokened ones served.
    md_set(s, require_token=True)
    assert md(s, "GET", CRED_PATH).status == 401
    assert md(s, "GET", CRED_PATH + "ddoscoo-reader").status == 401
    assert md(s, "GET", CRED_PATH, hdr).status == 200
    # A short-lived session token dies.
    short = md_token(s, "1")
    time.sleep(1.1)
    assert md(s, "GET", CRED_PATH, {"X-aliyun-ecs-metadata-token": short}).status == 401
    assert md(s, "GET", CRED_PATH, hdr).status == 200

    # Log: every metadata request, flagged, without tokens or secrets.
    entries = [e for e in s.log_entries() if e.get("service") == "metadata"]
    assert len(entries) == 24
    assert all({"path", "method", "status", "token_header", "params"} <= set(e) for e in entries)
    first = entries[0]
    assert (first["method"], first["path"], first["status"], first["token_header"]) == \
        ("PUT", "/latest/api/token", 200, False)
    assert entries[1]["token_header"] is True and entries[1]["path"] == CRED_PATH
    assert entries[2]["access_key_id"] == creds["AccessKeyId"] and entries[2]["issued"] is True
    text = s.log_path.read_text()
    for secret in (token, short, creds["AccessKeySecret"], creds["SecurityToken"]):
        assert secret not in text


def test_metadata_modes(start_sim):
    s = start_sim(dict(BASE_CONFIG, metadata={"require_token": False}), metadata=True)
    role_path = CRED_PATH + "ddoscoo-reader"   # the default role
    assert md(s, "GET", CRED_PATH).body == b"ddoscoo-reader"

    md_set(s, mode="down")
    assert md(s, "PUT", "/latest/api/token", {"X-aliyun-ecs-metadata-token-ttl-seconds": "60"}
              ).status == 500
    assert md(s, "GET", CRED_PATH).status == 500
    assert md(s, "GET", role_path).status == 500

    md_set(s, mode="garbage")
    r = md(s, "GET", role_path)
    assert (r.status, r.body) == (200, b"this is not json")
    assert md(s, "GET", CRED_PATH).body == b"ddoscoo-reader"

    md_set(s, mode="no_token_api")
    assert md(s, "PUT", "/latest/api/token", {"X-aliyun-ecs-metadata-token-ttl-seconds": "60"}
              ).status == 404
    assert json.loads(md(s, "GET", role_path).body)["Code"] == "Success"

    md_set(s, mode="bad_code")
    doc = json.loads(md(s, "GET", role_path).body)
    assert doc["Code"] == "Failed" and "AccessKeyId" not in doc and "SecurityToken" not in doc

    md_set(s, mode="hang", hang_seconds=0.4)
    t0 = time.monotonic()
    r = md(s, "GET", role_path)
    assert r.status == 200 and time.monotonic() - t0 >= 0.4
    md_set(s, hang_seconds=5)
    with pytest.raises(OSError):   # socket.timeout is an OSError
        md(s, "GET", role_path, timeout=0.3)

    md_set(s, mode="ok", role="other-role")
    assert md(s, "GET", CRED_PATH).body == b"other-role"
    assert md(s, "GET", role_path).status == 404
    assert json.loads(md(s, "GET", CRED_PATH + "other-role").body)["Code"] == "Success"
    status = json.loads(send(s.base + "/_sim/metadata").body)
    assert status["mode"] == "ok" and status["role"] == "other-role"
    assert status["current_access_key_id"].startswith("STS.")

    for bad in ({"mode": "nope"}, {"lifetime_seconds": 0}, {"require_token": "yes"},
                {"role": "a/b"}, {"colour": "blue"}):
        r = send(s.base + "/_sim/metadata", "POST", json.dumps(bad).encode())
        assert r.status == 400, bad
    faults = [e.get("fault") for e in s.log_entries() if e.get("service") == "metadata"]
    assert {"down", "garbage", "no_token_api", "bad_code", "hang"} <= set(faults)


def test_metadata_config_validation(tmp_path):
    for bad in ({"mode": "sometimes"}, {"lifetime_seconds": "90"}, {"extra": 1}):
        with pytest.raises(sim.ConfigError):
            sim.load_config(dict(BASE_CONFIG, metadata=bad))
    # With a metadata section the static keys may be empty.
    assert sim.load_config({"keys": {}, "metadata": {}})["metadata"]["role"] == "ddoscoo-reader"
    with pytest.raises(sim.ConfigError):
        sim.load_config({"keys": {}})


def test_metadata_rotation_and_expiry(start_sim):
    lifetime = 6
    s = start_sim(dict(BASE_CONFIG, metadata={"lifetime_seconds": lifetime}), metadata=True)
    role_path = CRED_PATH + "ddoscoo-reader"
    first = json.loads(md(s, "GET", role_path).body)
    exp1 = utc_epoch(first["Expiration"])
    assert exp1 - utc_epoch(first["LastUpdated"]) == lifetime
    check_success(use_creds(s, first), [INST1])

    # Poll: the same set until it is within lifetime/3 of its Expiration.
    deadline = time.time() + lifetime + 2
    while True:
        before = time.time()
        cur = json.loads(md(s, "GET", role_path).body)
        if cur["AccessKeyId"] != first["AccessKeyId"]:
            break
        assert cur == first
        assert before < exp1 - lifetime / 3 + 0.5
        assert time.time() < deadline, "credentials never rotated"
        time.sleep(0.2)
    second = cur
    assert time.time() >= exp1 - lifetime / 3 - 0.5
    assert second["SecurityToken"] != first["SecurityToken"]
    assert utc_epoch(second["Expiration"]) > exp1
    # Both live now: the old set stays valid until its own Expiration.
    check_success(use_creds(s, first, v3=True), [INST1])
    check_success(use_creds(s, second), [INST1])

    time.sleep(max(0.0, exp1 + 0.1 - time.time()))
    assert_error(use_creds(s, first), 400, "InvalidSecurityToken.Expired")
    assert_error(use_creds(s, first, v3=True), 400, "InvalidSecurityToken.Expired")
    check_success(use_creds(s, second, v3=True), [INST1])
    assert json.loads(md(s, "GET", role_path).body) == second



def test_latency_delays_verified_answers_only(start_sim):
    server = start_sim(dict(BASE_CONFIG, latency_ms=400))
    started = time.monotonic()
    assert call(server, make_params()).status == 200
    assert time.monotonic() - started >= 0.4
    started = time.monotonic()
    assert call(server, make_params(Signature="forged"), sign=False).status == 400
    assert time.monotonic() - started < 0.4
    with pytest.raises(sim.ConfigError):
        sim.load_config(dict(BASE_CONFIG, latency_ms=-1))


def test_static_document_for_benchmarks(start_sim):
    server = start_sim()
    with urllib.request.urlopen(server.base + "/_sim/static/%s.xml" % INST1, timeout=5) as r:
        doc = ET.fromstring(r.read())
    end = int(time.time()) // 60 * 60
    want = sim.values_for([INST1], None, end - 60, end)
    assert doc.tag == "DescribePortConnsCountResponse"
    assert {k: int(doc.findtext(k)) for k in want} == want
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(server.base + "/_sim/static/x%2F.xml", timeout=5)


# ---------------------------------------------------------------------------
# Listing operations: DescribeInstanceIds, DescribeNetworkRules
# ---------------------------------------------------------------------------

INST3 = "ddoscoo-cn-sim0003"        # in resource group rg-aek2
INST_AP = "ddoscoo-intl-sim0004"    # in ap-southeast-1
RULES1 = [
    {"protocol": "tcp", "frontend_port": 80, "backend_port": 8080},
    {"protocol": "tcp", "frontend_port": 443, "backend_port": 8443,
     "real_servers": ["10.0.0.1", "10.0.0.2"], "remark": "tls <&>"},
    {"protocol": "udp", "frontend_port": 53, "backend_port": 53},
    {"protocol": "tcp", "frontend_port": 22, "backend_port": 2222},
    {"protocol": "udp", "frontend_port": 123, "backend_port": 123},
    {"protocol": "tcp", "frontend_port": 8080, "backend_port": 80},
    {"protocol": "udp", "frontend_port": 80, "backend_port": 8080},
]
LIST_CONFIG = dict(
    BASE_CONFIG, instances=[INST1, INST2, INST3, INST_AP],
    remarks={INST1: 'web <&> "1"', INST2: "api"}, editions={INST2: 1},
    resource_groups={INST3: "rg-aek2"}, instance_regions={INST_AP: "ap-southeast-1"},
    rules={INST1: RULES1, INST_AP: [{"protocol": "tcp", "frontend_port": 9000,
                                     "backend_port": 9000}]})
DEFAULT_ITEM = {"Edition": "9", "Remark": "", "IpMode": "fnat", "IpVersion": "Ipv4"}


@pytest.fixture(scope="module")
def list_servers(tmp_path_factory):
    """One simulator per list style, sharing LIST_CONFIG."""
    sims = {style: RunningSim(tmp_path_factory.mktemp("list-" + style),
                              dict(LIST_CONFIG, list_style=style))
            for style in ("repeated", "wrapper")}
    yield sims
    for s in sims.values():
        assert s.stop() == 0


def list_params(action, key="testid", **overrides):
    """A valid V1 request of a listing operation (no DescribePortConnsCount
    parameters); overrides as for make_params."""
    base = {"Action": action, "StartTime": None, "EndTime": None, "InstanceIds__1": None}
    base.update(overrides)
    return make_params(key=key, **base)


def rules_params(page, size, iid=INST1, **overrides):
    base = {"InstanceId": iid, "PageNumber": str(page), "PageSize": str(size)}
    base.update(overrides)
    return list_params("DescribeNetworkRules", **base)


def parse_list(resp, action, list_name, style):
    """(root element, [item as {tag: text}, RealServers as a list]) of an
    XML listing answer, checking the list style's shape strictly."""
    assert resp.status == 200, resp.body
    assert resp.headers["Content-Type"] == "text/xml;charset=UTF-8"
    root = resp.xml()
    assert root.tag == action + "Response"
    assert root.findtext("RequestId") == resp.headers["x-acs-request-id"]
    lists = root.findall(list_name)
    if style == "wrapper":
        assert len(lists) == 1 and not lists[0].text
        elems = list(lists[0])
        assert all(e.tag == "item" for e in elems)
    else:
        elems = lists
        assert not any(e.tag == "item" for e in root.iter())
    items = []
    for el in elems:
        item = {}
        for c in el:
            if c.tag == "RealServers":
                vals = [x.text for x in c] if style == "wrapper" else [c.text]
                if style == "wrapper":
                    assert all(x.tag == "item" for x in c) and "RealServers" not in item
                item.setdefault("RealServers", []).extend(vals)
            else:
                assert c.tag not in item and len(c) == 0
                item[c.tag] = c.text or ""
        items.append(item)
    return root, items


def listed_ids(server, style, **overrides):
    r = call(server, list_params("DescribeInstanceIds", **overrides))
    return [i["InstanceId"] for i in parse_list(r, "DescribeInstanceIds", "InstanceIds", style)[1]]


@pytest.mark.parametrize("style", ["repeated", "wrapper"])
def test_describe_instance_ids_styles(list_servers, style):
    s = list_servers[style]
    r = call(s, list_params("DescribeInstanceIds"))
    root, items = parse_list(r, "DescribeInstanceIds", "InstanceIds", style)
    assert sorted(c.tag for c in root) == (["InstanceIds"] * 3 if style == "repeated"
                                           else ["InstanceIds"]) + ["RequestId"]
    assert items == [dict(DEFAULT_ITEM, InstanceId=INST1, Remark='web <&> "1"'),
                     dict(DEFAULT_ITEM, InstanceId=INST2, Edition="1", Remark="api"),
                     dict(DEFAULT_ITEM, InstanceId=INST3)]
    if style == "repeated":
        assert b"</InstanceIds><InstanceIds>" in r.body and b"<item>" not in r.body
    else:
        assert b"<InstanceIds><item>" in r.body and b"</item></InstanceIds>" in r.body
    # An empty list: no element at all, or an empty wrapper.
    r = call(s, list_params("DescribeInstanceIds", ResourceGroupId="rg-none"))
    root, items = parse_list(r, "DescribeInstanceIds", "InstanceIds", style)
    assert items == [] and len(root.findall("InstanceIds")) == (style == "wrapper")
    # JSON does not depend on the style.
    r = call(s, list_params("DescribeInstanceIds", Format=None, RegionId="ap-southeast-1"))
    assert r.headers["Content-Type"].startswith("application/json")
    doc = json.loads(r.body)
    assert doc["InstanceIds"] == [{"InstanceId": INST_AP, "Edition": 9, "Remark": "",
                                   "IpMode": "fnat", "IpVersion": "Ipv4"}]
    assert doc["RequestId"] == r.headers["x-acs-request-id"]


def test_describe_instance_ids_filters(list_servers):
    s = list_servers["repeated"]
    ids = lambda **kw: listed_ids(s, "repeated", **kw)
    assert ids(RegionId="cn-hangzhou") == [INST1, INST2, INST3]
    assert ids(RegionId="ap-southeast-1") == [INST_AP]
    assert ids(ResourceGroupId="rg-aek2") == [INST3]
    assert ids(ResourceGroupId="rg-default") == [INST1, INST2]
    assert ids(Edition="1") == [INST2]
    assert ids(Edition="9", ResourceGroupId="rg-aek2") == [INST3]
    assert ids(InstanceIds__1=INST3, InstanceIds__2=INST1) == [INST1, INST3]  # listing order
    assert ids(InstanceIds__1="ddoscoo-cn-nope", InstanceIds__2=INST_AP) == []
    # Fault-only instances exist for DescribePortConnsCount but are not listed.
    assert "ddoscoo-cn-bad" not in ids()


@pytest.mark.parametrize("overrides,status,code,mentions", [
    ({"Edition": "x"}, 400, "InvalidParameter", "Edition"),
    ({"Edition": "-1"}, 400, "InvalidParameter", "Edition"),
    ({"ResourceGroupId": ""}, 400, "InvalidParameter", "ResourceGroupId"),
    ({"InstanceIds__2": INST1}, 400, "InvalidParameter", "InstanceIds.1"),    # gap
    ({"StartTime": "60"}, 400, "InvalidParameter", "StartTime"),        # not its parameter
    ({"InstanceId": INST1}, 400, "InvalidParameter", "InstanceId"),
    ({"PageSize": "10"}, 400, "InvalidParameter", "PageSize"),
    ({"RegionId": "cn-beijing"}, 400, "InvalidRegionId", None),
    ({"Format": "xml"}, 400, "InvalidParameter", "Format"),
    ({"Version": "2014-05-26"}, 400, "InvalidVersion", None),
    ({"AccessKeyId": "nosuchkey"}, 404, "InvalidAccessKeyId.NotFound", None),
    ({"Timestamp": utc_timestamp(-16 * 60)}, 400, "InvalidTimeStamp.Expired", None),
])
def test_describe_instance_ids_rejections(list_servers, overrides, status, code, mentions):
    p = list_params("DescribeInstanceIds", **overrides)
    assert_error(call(list_servers["repeated"], p, secret="testsecret"), status, code, mentions)


def test_list_operations_signature_nonce_token(list_servers):
    s = list_servers["repeated"]
    p = list_params("DescribeInstanceIds")
    assert_error(call(s, p, secret="wrong"), 400, "SignatureDoesNotMatch")
    assert call(s, p, "POST", form=True).status == 200
    assert_error(call(s, rules_params(1, 10, SignatureNonce=p["SignatureNonce"])), 400,
                 "SignatureNonceUsed")
    assert call(s, rules_params(1, 10, key="stsid")).status == 200
    assert_error(call(s, rules_params(1, 10, key="stsid", SecurityToken="bad")), 400,
                 "InvalidSecurityToken.Mismatch")
    assert_error(call(s, rules_params(1, 10, SecurityToken="tok123")), 400,
                 "InvalidSecurityToken.Malformed")


RULE_ITEM_KEYS = ["BackendPort", "FrontendPort", "InstanceId", "IsAutoCreate", "Protocol",
                  "RealServers", "Remark"]


def expected_rule(iid, r):
    return {"InstanceId": iid, "Protocol": r["protocol"], "FrontendPort": str(r["frontend_port"]),
            "BackendPort": str(r["backend_port"]),
            "RealServers": r.get("real_servers", ["192.0.2.1"]), "Remark": r.get("remark", ""),
            "IsAutoCreate": "false"}


@pytest.mark.parametrize("style", ["repeated", "wrapper"])
def test_describe_network_rules_paging(list_servers, style):
    s = list_servers[style]
    pages = []
    for page in (1, 2, 3, 4):
        r = call(s, rules_params(page, 3))
        root, items = parse_list(r, "DescribeNetworkRules", "NetworkRules", style)
        assert root.findtext("TotalCount") == "7"
        assert all(sorted(i) == RULE_ITEM_KEYS for i in items)
        pages.append(items)
    assert [len(p) for p in pages] == [3, 3, 1, 0]
    assert sum(pages, []) == [expected_rule(INST1, r) for r in RULES1]
    assert pages[0][1]["RealServers"] == ["10.0.0.1", "10.0.0.2"]
    if style == "repeated":
        assert b"<RealServers>10.0.0.1</RealServers><RealServers>10.0.0.2</RealServers>" in \
            call(s, rules_params(1, 3)).body
    else:
        assert b"<RealServers><item>10.0.0.1</item><item>10.0.0.2</item></RealServers>" in \
            call(s, rules_params(1, 3)).body
    # Beyond the end: an empty list (an empty wrapper, or nothing).
    root = call(s, rules_params(1000000, 50)).xml()
    assert root.findtext("TotalCount") == "7"
    assert len(root.findall("NetworkRules")) == (style == "wrapper")


def test_describe_network_rules_filters_and_json(list_servers):
    s = list_servers["wrapper"]

    def got(**kw):
        r = call(s, rules_params(1, 50, **kw))
        root, items = parse_list(r, "DescribeNetworkRules", "NetworkRules", "wrapper")
        return int(root.findtext("TotalCount")), [(i["Protocol"], int(i["FrontendPort"]))
                                                  for i in items]
    assert got(ForwardProtocol="udp") == (3, [("udp", 53), ("udp", 123), ("udp", 80)])
    assert got(FrontendPort="80") == (2, [("tcp", 80), ("udp", 80)])
    assert got(ForwardProtocol="tcp", FrontendPort="80") == (1, [("tcp", 80)])
    assert got(FrontendPort="81") == (0, [])
    assert got(iid=INST3) == (0, [])                                  # an instance without rules
    assert got(iid=INST_AP, RegionId="ap-southeast-1") == (1, [("tcp", 9000)])
    r = call(s, rules_params(1, 2, Format=None))
    doc = json.loads(r.body)
    assert doc["TotalCount"] == 7 and doc["RequestId"] == r.headers["x-acs-request-id"]
    assert doc["NetworkRules"] == [
        {"InstanceId": INST1, "Protocol": "tcp", "FrontendPort": 80, "BackendPort": 8080,
         "RealServers": ["192.0.2.1"], "Remark": "", "IsAutoCreate": False},
        {"InstanceId": INST1, "Protocol": "tcp", "FrontendPort": 443, "BackendPort": 8443,
         "RealServers": ["10.0.0.1", "10.0.0.2"], "Remark": "tls <&>", "IsAutoCreate": False}]


@pytest.mark.parametrize("overrides,code,mentions", [
    ({"PageSize": "0"}, "InvalidParameter", "PageSize"),
    ({"PageSize": "51"}, "InvalidParameter", "PageSize"),
    ({"PageSize": "05"}, "InvalidParameter", "PageSize"),
    ({"PageSize": "ten"}, "InvalidParameter", "PageSize"),
    ({"PageSize": ""}, "InvalidParameter", "PageSize"),
    ({"PageNumber": "0"}, "InvalidParameter", "PageNumber"),
    ({"PageNumber": "-1"}, "InvalidParameter", "PageNumber"),
    ({"PageNumber": None}, "MissingParameter", "PageNumber"),
    ({"PageSize": None}, "MissingParameter", "PageSize"),
    ({"InstanceId": None}, "MissingParameter", "InstanceId"),
    ({"ForwardProtocol": "TCP"}, "InvalidParameter", "ForwardProtocol"),
    ({"ForwardProtocol": "http"}, "InvalidParameter", "ForwardProtocol"),
    ({"FrontendPort": "0"}, "InvalidParameter", "FrontendPort"),
    ({"FrontendPort": "65536"}, "InvalidParameter", "FrontendPort"),
    ({"InstanceIds__1": INST1}, "InvalidParameter", "InstanceIds.1"),  # not its parameter
    ({"Port": "80"}, "InvalidParameter", "Port"),
    ({"InstanceId": "ddoscoo-cn-nope"}, "InvalidInstance.NotFound", "ddoscoo-cn-nope"),
    ({"InstanceId": INST_AP}, "InvalidInstance.NotFound", INST_AP),     # other region
    ({"RegionId": "ap-southeast-1"}, "InvalidInstance.NotFound", INST1),
])
def test_describe_network_rules_rejections(list_servers, overrides, code, mentions):
    assert_error(call(list_servers["repeated"], rules_params(1, 10, **overrides)), 400, code,
                 mentions)


def test_list_operations_v3(list_servers):
    s = list_servers["wrapper"]
    h = v3_headers(s, x_acs_action="DescribeInstanceIds")
    r = v3_call(s, {"Format": "XML", "Edition": "1"}, h)
    assert [i["InstanceId"] for i in parse_list(r, "DescribeInstanceIds", "InstanceIds",
                                                "wrapper")[1]] == [INST2]
    # GET, STS key, form body, JSON.
    p = {"InstanceId": INST1, "PageNumber": "3", "PageSize": "3"}
    body = urllib.parse.urlencode(p).encode()
    h = v3_headers(s, key="stsid", body=body, x_acs_action="DescribeNetworkRules",
                   content_type="application/x-www-form-urlencoded")
    r = v3_call(s, {}, h, method="POST", body=body, key="stsid")
    doc = json.loads(r.body)
    assert r.status == 200 and doc["TotalCount"] == 7 and len(doc["NetworkRules"]) == 1
    # Rejections as for V1.
    h = v3_headers(s, x_acs_action="DescribeNetworkRules")
    assert_error(v3_call(s, dict(p, PageSize="100"), h), 400, "InvalidParameter", "PageSize")
    h = v3_headers(s, x_acs_action="DescribeNetworkRules")
    assert_error(v3_call(s, v3_params(), h), 400, "InvalidParameter", "EndTime")
    h = v3_headers(s, x_acs_action="DescribeInstanceIds")
    assert_error(v3_call(s, {"Edition": "1"}, h, secret="bad"), 400, "SignatureDoesNotMatch")


def test_list_log_lines(start_sim):
    s = start_sim(LIST_CONFIG)
    call(s, rules_params(2, 3, key="stsid"))
    call(s, list_params("DescribeInstanceIds", RegionId="ap-southeast-1"))
    v3_call(s, {"Edition": "1"}, v3_headers(s, x_acs_action="DescribeInstanceIds"))
    call(s, rules_params(1, 99))
    call(s, make_params())
    send(s.base + "/_sim/health")
    rules, ids, v3, bad, conns = s.log_entries()
    assert rules["action"] == "DescribeNetworkRules" and rules["status"] == 200
    assert {k: rules["params"][k] for k in ("InstanceId", "PageNumber", "PageSize")} == \
        {"InstanceId": INST1, "PageNumber": "2", "PageSize": "3"}
    assert rules["params"]["SecurityToken"] == "***" and "Signature" not in rules["params"]
    assert rules["listed"] == ["tcp:22", "udp:123", "tcp:8080"] and rules["total_count"] == 7
    assert ids["action"] == "DescribeInstanceIds" and ids["listed"] == [INST_AP]
    assert (v3["action"], v3["signature_version"], v3["listed"]) == \
        ("DescribeInstanceIds", "3", [INST2])
    assert (bad["action"], bad["code"], bad["params"]["PageSize"]) == \
        ("DescribeNetworkRules", "InvalidParameter", "99")
    assert conns["action"] == "DescribePortConnsCount" and conns["values"]
    assert "tok123" not in s.log_path.read_text()


def post_json(s, what, doc):
    return send(s.base + "/_sim/" + what, "POST", json.dumps(doc).encode())


def test_runtime_instance_changes(start_sim):
    s = start_sim(LIST_CONFIG)
    new = "ddoscoo-cn-new0005"
    assert_error(call(s, make_params(InstanceIds__1=new)), 400, "InvalidInstance.NotFound")
    change = {"add": [new], "remove": [INST2], "remarks": {new: "fresh"},
              "rules": {new: [{"protocol": "udp", "frontend_port": 5000, "backend_port": 5001}],
                        INST1: []}}
    r = post_json(s, "instances", change)
    assert (r.status, r.body) == (200, b"ok")
    r = call(s, list_params("DescribeInstanceIds"))
    items = parse_list(r, "DescribeInstanceIds", "InstanceIds", "repeated")[1]
    assert items == [dict(DEFAULT_ITEM, InstanceId=INST1, Remark='web <&> "1"'),
                     dict(DEFAULT_ITEM, InstanceId=INST3),
                     dict(DEFAULT_ITEM, InstanceId=new, Remark="fresh")]
    assert_error(call(s, make_params(InstanceIds__1=INST2)), 400, "InvalidInstance.NotFound")
    assert_error(call(s, rules_params(1, 10, iid=INST2)), 400, "InvalidInstance.NotFound")
    check_success(call(s, make_params(InstanceIds__1=new)), [new])
    assert call(s, rules_params(1, 10)).xml().findtext("TotalCount") == "0"
    root, rules = parse_list(call(s, rules_params(1, 10, iid=new)), "DescribeNetworkRules",
                             "NetworkRules", "repeated")
    assert rules == [expected_rule(new, {"protocol": "udp", "frontend_port": 5000,
                                         "backend_port": 5001})]
    # Fault-only instances can be removed too; adding again is harmless.
    assert post_json(s, "instances", {"remove": ["ddoscoo-cn-bad"], "add": [new]}).status == 200
    assert_error(call(s, make_params(InstanceIds__1="ddoscoo-cn-bad")), 400,
                 "InvalidInstance.NotFound")
    # Bad bodies are refused whole: nothing of them is applied.
    for bad in ({"remove": ["ddoscoo-cn-nope"], "add": ["x-1"]}, {"add": ["x-1"], "remove": ["x-1"]},
                {"add": ["x-1"], "colour": 1}, {"add": "x-1"},
                {"add": ["x-1"], "rules": {"x-1": [{"protocol": "icmp", "frontend_port": 1,
                                                    "backend_port": 1}]}},
                {"add": ["x-1"], "rules": {"x-1": [{"protocol": "tcp", "frontend_port": 1,
                                                    "backend_port": 1}] * 2}},
                {"add": ["x-1"], "remarks": {"x-1": 5}},
                {"add": ["x-1"], "instance_regions": {"x-1": "cn-beijing"}}):
        assert post_json(s, "instances", bad).status == 400, bad
    assert send(s.base + "/_sim/instances", "POST", b"nope").status == 400
    inv = json.loads(send(s.base + "/_sim/instances").body)
    assert inv["instances"] == [INST1, INST3, INST_AP, new] and "x-1" not in inv["existing"]
    assert inv["rules"][INST1] == [] and inv["remarks"][new] == "fresh"


LIST_PAYLOAD_MODES = ["garbage", "empty", "html", "empty503", "json", "truncated", "reset", "wrongroot",
                      "xxe", "entities", "oversize"]


def test_list_faults(start_sim):
    s = start_sim(dict(LIST_CONFIG, list_faults={
        "DescribeInstanceIds": {"mode": "http503", "count": 2}}))
    ids = lambda: call(s, list_params("DescribeInstanceIds"))
    assert_error(ids(), 503, "ServiceUnavailable")
    assert call(s, rules_params(1, 5)).status == 200        # the other operation: no fault
    check_success(call(s, make_params()), [INST1])          # nor DescribePortConnsCount
    assert_error(ids(), 503, "ServiceUnavailable")
    assert ids().status == 200
    assert json.loads(send(s.base + "/_sim/list_faults").body) == {
        "DescribeInstanceIds": {"mode": "http503", "count": 0}}

    r = post_json(s, "list_faults", {"DescribeNetworkRules": {"mode": "throttle", "count": 1,
                                                              "retry_after_ms": 700}})
    assert (r.status, r.body) == (200, b"ok")
    r = call(s, rules_params(1, 5))
    assert_error(r, 400, "Throttling.User")
    assert r.headers["x-acs-retry-after"] == "700"
    assert call(s, rules_params(1, 5)).status == 200

    results = {}
    for mode in LIST_PAYLOAD_MODES:
        assert post_json(s, "list_faults", {"DescribeNetworkRules": {"mode": mode,
                                                                     "count": 1}}).status == 200
        p = rules_params(1, 5)
        p["Signature"] = sim.sign_v1("GET", p, "testsecret")[1]
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=5)
        try:
            conn.request("GET", "/?" + encode(p))
            resp = conn.getresponse()
            results[mode] = (resp.status, resp.read())
        except (http.client.HTTPException, OSError) as e:
            results[mode] = e
        finally:
            conn.close()
        assert call(s, rules_params(1, 5)).status == 200, mode   # count 1: used up
    assert results["garbage"] == (200, b"this is not xml")
    assert results["empty"] == (200, b"")
    assert results["html"][0] == 502 and b"nginx" in results["html"][1]
    assert results["empty503"] == (503, b"")
    assert json.loads(results["json"][1])["TotalCount"] == 7
    assert isinstance(results["truncated"], http.client.IncompleteRead)
    assert isinstance(results["reset"], (ConnectionResetError, http.client.IncompleteRead))
    assert ET.fromstring(results["wrongroot"][1]).tag == "DescribeSomethingElseResponse"
    assert b'SYSTEM "file:///etc/hostname"' in results["xxe"][1]
    assert b"<RequestId>&xxe;</RequestId>" in results["xxe"][1]
    assert b"<RequestId>&lol9;</RequestId>" in results["entities"][1]
    big = results["oversize"][1]
    assert len(big) > 2 * 1024 * 1024 and ET.fromstring(big).findtext("TotalCount") == "7"

    assert post_json(s, "list_faults", {"DescribeInstanceIds": {"mode": "hang", "seconds": 0.3,
                                                                "count": 1}}).status == 200
    t0 = time.monotonic()
    assert ids().status == 200 and time.monotonic() - t0 >= 0.3
    for bad in ({"DescribePortConnsCount": {"mode": "garbage"}},
                {"DescribeInstanceIds": {"mode": "missing"}},
                {"DescribeInstanceIds": {"mode": "garbage", "count": -1}}, []):
        assert post_json(s, "list_faults", bad).status == 400, bad
    faults = [e["fault"] for e in s.log_entries() if e["action"] == "DescribeNetworkRules"]
    assert set(LIST_PAYLOAD_MODES) | {"throttle"} <= set(faults)


def test_list_rate_limit(start_sim):
    s = start_sim(dict(LIST_CONFIG, list_rate_limit=10))
    params = [list_params("DescribeInstanceIds") if i % 2 else rules_params(1, 5)
              for i in range(11)]
    for p in params:   # signed beforehand: only the sending is timed
        p["Signature"] = sim.sign_v1("GET", p, "testsecret")[1]
    t0 = time.monotonic()
    statuses = [call(s, p, sign=False).status for p in params]
    elapsed = time.monotonic() - t0
    if elapsed >= 0.5:   # the checks below must still fall in the same 1 s window
        pytest.skip("11 requests took %.2fs: too slow a machine to test a 1 s window" % elapsed)
    assert statuses == [200] * 10 + [400]
    # Per AccessKeyId; DescribePortConnsCount is not counted.
    assert call(s, list_params("DescribeInstanceIds", key="stsid")).status == 200
    check_success(call(s, make_params()), [INST1])
    r = call(s, rules_params(1, 5))
    assert_error(r, 400, "Throttling.User", "flow control")
    throttled = [e for e in s.log_entries() if e["code"] == "Throttling.User"]
    assert len(throttled) == 2 and all(e["fault"] == "rate_limit" for e in throttled)
    assert throttled[0]["action"] == "DescribeNetworkRules"
    time.sleep(max(0.0, t0 + 1.05 - time.monotonic()))
    # Throttled calls do not count: the window is free again.
    assert call(s, rules_params(1, 5)).status == 200


# ---------------------------------------------------------------------------
# An account's API quota ("quota", --quota-rps)
# ---------------------------------------------------------------------------

def test_quota_counts_by_arrival_per_account_or_operation():
    """Counted by arrival time over any 1 s, per AccessKeyId (or per key and
    Action); a throttled request is not counted."""
    acct = sim.SimState(dict(BASE_CONFIG, quota={"rps": 3}))
    take = acct.take_quota_slot
    assert [take("testid", "DescribePortConnsCount", 100.0 + i / 10) for i in range(4)] \
        == [None, None, None, []]
    assert take("testid", "DescribePortFlowList", 100.5) == []      # any operation
    assert take("stsid", "DescribePortConnsCount", 100.5) is None   # another key
    assert take("testid", "DescribePortConnsCount", 100.99) == []
    assert take("testid", "DescribePortConnsCount", 101.01) is None  # 100.0 left the second
    assert take("testid", "DescribePortConnsCount", 101.05) == []
    assert take("testid", "DescribePortConnsCount", 101.11) is None

    op = sim.SimState(dict(BASE_CONFIG, quota={"rps": 2, "per": "operation", "hints": True}))
    take = op.take_quota_slot
    assert take("testid", "DescribePortConnsCount", 200.0) is None
    assert take("testid", "DescribePortConnsCount", 200.2) is None
    hdr = take("testid", "DescribePortConnsCount", 200.5)
    assert hdr == [("x-ratelimit-user-api", "Limit:2,Remain:0,TimeLeft:501,Reset:201001")]
    assert take("testid", "DescribePortFlowList", 200.5) is None    # its own quota
    assert take("testid", "DescribeDDoSEvents", 200.5) is None
    assert sim.SimState(dict(BASE_CONFIG)).take_quota_slot("testid", "X", 1.0) is None


def test_quota_config_validation():
    for bad in ({"rps": 0}, {"rps": True}, {"rps": 2.5}, {"rps": 3, "per": "key"},
                {"rps": 3, "hints": 1}, {"rps": 3, "burst": 5}, [3]):
        with pytest.raises(sim.ConfigError):
            sim.load_config(dict(BASE_CONFIG, quota=bad))
    assert sim.load_config(dict(BASE_CONFIG))["quota"] is None
    assert sim.load_config(dict(BASE_CONFIG, quota={"rps": 5}))["quota"] == \
        {"rps": 5, "per": "account", "hints": False}


def test_quota_over_http(start_sim):
    """A running simulator answers beyond the quota with 400 Throttling.User,
    logged with fault "quota"; --quota-rps sets it, /_sim/quota changes it."""
    s = start_sim(BASE_CONFIG, extra_args=("--quota-rps", "4", "--quota-per", "account"))
    assert json.loads(send(s.base + "/_sim/quota").body) == \
        {"rps": 4, "per": "account", "hints": False}
    params = [make_params() for _ in range(5)]
    for p in params:   # signed beforehand: only the sending is timed
        p["Signature"] = sim.sign_v1("GET", p, "testsecret")[1]
    t0 = time.monotonic()
    resps = [call(s, p, sign=False) for p in params]
    if time.monotonic() - t0 >= 0.8:
        pytest.skip("5 requests took %.2fs: too slow a machine to test a 1 s window"
                    % (time.monotonic() - t0))
    assert [r.status for r in resps] == [200] * 4 + [400]
    assert_error(resps[4], 400, "Throttling.User", "user flow control")
    throttled = [e for e in s.log_entries() if e.get("code") == "Throttling.User"]
    assert len(throttled) == 1 and throttled[0]["fault"] == "quota"
    assert post_json(s, "quota", {"rps": 0}).status == 400
    assert post_json(s, "quota", {"rps": 100, "per": "operation"}).status == 200
    assert [call(s, make_params()).status for _ in range(6)] == [200] * 6
    assert post_json(s, "quota", {}).status == 200
    assert json.loads(send(s.base + "/_sim/quota").body) == {}


def test_list_config_validation():
    for bad in ({"list_style": "nested"}, {"list_rate_limit": 0}, {"list_rate_limit": True},
                {"rules": {INST1: [{"protocol": "tcp", "frontend_port": 80}]}},
                {"rules": {INST1: [{"protocol": "tcp", "frontend_port": 80, "backend_port": 80,
                                    "real_servers": []}]}},
                {"rules": {INST1: [{"protocol": "tcp", "frontend_port": 80, "backend_port": 80,
                                    "weight": 1}]}},
                {"remarks": {INST1: "bell\x07"}}, {"editions": {INST1: "9"}},
                {"resource_groups": {INST1: ""}}, {"instance_regions": {INST1: "eu-west-1"}},
                {"list_faults": {"DescribeInstanceIds": {"mode": "nonnumeric"}}}):
        with pytest.raises(sim.ConfigError):
            sim.load_config(dict(BASE_CONFIG, **bad))
    cfg = sim.load_config(LIST_CONFIG)
    assert cfg["list_style"] == "repeated" and cfg["list_rate_limit"] is None
    assert cfg["rules"][INST1][0] == {"protocol": "tcp", "frontend_port": 80, "backend_port": 8080,
                                      "real_servers": ["192.0.2.1"], "remark": ""}


# ---------------------------------------------------------------------------
# Attack statistics: DescribePortFlowList, DescribeBlackholeStatus,
# DescribeDDoSEvents
# ---------------------------------------------------------------------------

FLOW, BLACKHOLE, EVENTS = "DescribePortFlowList", "DescribeBlackholeStatus", "DescribeDDoSEvents"
PORT_MAX = "DescribePortMaxConns"
LIST_NAME = {FLOW: "PortFlowList", BLACKHOLE: "BlackholeStatus", EVENTS: "DDoSEvents",
             PORT_MAX: "PortMaxConns"}
IP_A, IP_B1, IP_B2 = "203.0.113.10", "203.0.113.20", "203.0.113.21"
ATTACK_SECTION = {
    "instance_ips": {INST2: [IP_B1, IP_B2]},
    "flow_regions": ["cn", "alb-ap-northeast-1-gf-x"],
    "attacks": [
        # Over an hour ago, 40 Gbit/s, blackholed for ten minutes.
        {"instance": INST1, "ip": IP_A, "start": "now-5400", "end": "now-3600",
         "peak_bps": 40000000000, "peak_pps": 5000000,
         "blackhole_from": "now-4800", "blackhole_to": "now-4200"},
        # Running, open-ended, on the same IP.
        {"instance": INST1, "ip": IP_A, "port": 443, "start": "now-600",
         "peak_bps": 2000000000, "peak_pps": 300000, "ramp_seconds": 60},
        # Running and blackholed right now.
        {"instance": INST2, "ip": IP_B2, "start": "now-1200", "end": "now+7200",
         "peak_bps": 8000000000, "peak_pps": 900000,
         "blackhole_from": "now-300", "blackhole_to": "now+3000"},
        # A Premium instance's attack from abroad, over.
        {"instance": INST_AP, "start": "now-1800", "end": "now-900", "ramp_seconds": 0,
         "peak_bps": 6000000000, "peak_pps": 700000, "region": "alb-ap-northeast-1-gf-x"},
    ],
}
STAT_CONFIG = dict(BASE_CONFIG, instances=[INST1, INST2, INST_AP],
                   instance_regions={INST_AP: "ap-southeast-1"}, attack=ATTACK_SECTION)


@pytest.fixture(scope="module")
def stat_servers(tmp_path_factory):
    """One simulator per list style, sharing STAT_CONFIG."""
    sims = {style: RunningSim(tmp_path_factory.mktemp("stat-" + style),
                              dict(STAT_CONFIG, list_style=style))
            for style in ("repeated", "wrapper")}
    yield sims
    for s in sims.values():
        assert s.stop() == 0


def attack_of(s):
    """The simulator's attack section, times resolved (GET /_sim/attack)."""
    doc = json.loads(send(s.base + "/_sim/attack").body)
    doc.pop("now")
    return doc


def minute(offset=0):
    return int(time.time()) // 60 * 60 + offset


def stat_params(action, key="testid", **overrides):
    """A valid V1 request of one of the three operations; overrides as
    for make_params."""
    base = {"Action": action}
    if action == FLOW:
        base.update(StartTime=str(minute(-3600)), EndTime=str(minute()), Interval="60")
    elif action == BLACKHOLE:
        base.update(StartTime=None, EndTime=None)
    elif action == PORT_MAX:
        base.update(StartTime=str(minute(-120)), EndTime=str(minute(-60)))
    else:
        base.update(StartTime=str(minute(-7200)), EndTime=str(minute()), PageNumber="1",
                    PageSize="10")
    base.update(overrides)
    return make_params(key=key, **base)


def stat_items(resp, action, style="repeated"):
    return parse_list(resp, action, LIST_NAME[action], style)[1]


def as_text(rows):
    return [{k: str(v) for k, v in r.items()} for r in rows]


@pytest.mark.parametrize("style", ["repeated", "wrapper"])
def test_port_flow_list_values_and_styles(stat_servers, style):
    s = stat_servers[style]
    section = attack_of(s)
    start = section["attacks"][0]["start"] // 60 * 60 - 600
    r = call(s, stat_params(FLOW, StartTime=str(start), EndTime=str(start + 3600)))
    items = stat_items(r, FLOW, style)
    expected = sim.flow_for([INST1], start, start + 3600, 60, section)
    assert len(expected) == 60 and items == as_text(expected)
    assert [i["Index"] for i in items] == [str(n) for n in range(60)]
    assert [int(i["Time"]) for i in items] == list(range(start, start + 3600, 60))
    assert {i["Region"] for i in items} == {"cn"}
    # The 40 Gbit/s attack as plain 64-bit integers; blackholed minutes
    # carry no traffic at all (one IP of two is dark: half the baseline).
    attack = [int(i["AttackBps"]) for i in items]
    assert 39_000_000_000 < max(attack) <= 40_000_000_000
    assert re.search(rb"<AttackBps>3[0-9]{10}</AttackBps>", r.body)
    dark = [i for i in items if section["attacks"][0]["blackhole_from"] <= int(i["Time"])
            < section["attacks"][0]["blackhole_to"]]
    assert dark and all(i["AttackBps"] == "0" for i in dark)
    assert all(int(i["InBps"]) == sim.baseline_for(INST1, int(i["Time"]))["InBps"] // 2
               for i in dark)
    # A smooth shape: the attack ramps up, it does not jump from nothing.
    rising = [a for a in attack[:25] if a > 0]    # the ramp takes 120 s
    assert rising[0] <= 20_000_000_000 and rising[-1] > 38_000_000_000


def test_port_flow_list_sums_instances_and_buckets(stat_servers):
    s = stat_servers["repeated"]
    section = attack_of(s)
    start, end = minute(-3600), minute()
    both = stat_items(call(s, stat_params(FLOW, StartTime=str(start), EndTime=str(end),
                                          InstanceIds__2=INST2)), FLOW)
    one = sim.flow_for([INST1], start, end, 60, section)
    two = sim.flow_for([INST2], start, end, 60, section)
    assert both == as_text(sim.flow_for([INST1, INST2], start, end, 60, section))
    for row, a, b in zip(both, one, two):
        assert int(row["InBps"]) == a["InBps"] + b["InBps"]
        assert int(row["AttackPps"]) == a["AttackPps"] + b["AttackPps"]
    # A 6-hour range in 10-minute buckets: each the maximum of its minutes.
    start = minute(-6 * 3600)
    items = stat_items(call(s, stat_params(FLOW, StartTime=str(start), EndTime=str(end),
                                           Interval="600")), FLOW)
    assert len(items) == 36 and items == as_text(sim.flow_for([INST1], start, end, 600, section))
    minutes = sim.flow_for([INST1], start, start + 600, 60, section)
    assert int(items[0]["InBps"]) == max(m["InBps"] for m in minutes)


def test_port_flow_list_premium_regions(stat_servers):
    s = stat_servers["wrapper"]
    section = attack_of(s)
    start, end = minute(-3600), minute()
    p = stat_params(FLOW, StartTime=str(start), EndTime=str(end), InstanceIds__1=INST_AP,
                    RegionId="ap-southeast-1")
    items = stat_items(call(s, p), FLOW, "wrapper")
    assert items == as_text(sim.flow_for([INST_AP], start, end, 60, section, "ap-southeast-1"))
    assert [i["Region"] for i in items[:2]] == ["cn", "alb-ap-northeast-1-gf-x"]
    total = sim.flow_for([INST_AP], start, end, 60, section)   # one row per Time
    assert len(items) == 2 * len(total)
    for n, row in enumerate(total):
        pair = items[2 * n:2 * n + 2]
        assert {i["Time"] for i in pair} == {str(row["Time"])}
        for k in sim.FLOW_FIELDS:
            assert sum(int(i[k]) for i in pair) == row[k]
    assert max(int(i["AttackBps"]) for i in items) > 0
    # A mainland request sees the mainland instance only, in "cn" rows.
    assert_error(call(s, dict(p, RegionId="cn-hangzhou", SignatureNonce=uuid.uuid4().hex)),
                 400, "InvalidInstance.NotFound", INST_AP)


def test_port_flow_list_leaves_out_unfinished_buckets(start_sim):
    s = start_sim(dict(STAT_CONFIG, attack={"flow_delay_seconds": 300}))
    start, end = minute(-3000), minute(60)   # EndTime may name the current minute's end
    items = stat_items(call(s, stat_params(FLOW, StartTime=str(start), EndTime=str(end))), FLOW)
    last = int(items[-1]["Time"])
    assert time.time() - 300 - 60 - 120 < last + 60 <= time.time() - 300
    assert items == as_text(sim.flow_for([INST1], start, end, 60, attack_of(s),
                                         now=last + 60 + 300))


@pytest.mark.parametrize("overrides,code,mentions", [
    ({"Interval": None}, "MissingParameter", "Interval"),
    ({"StartTime": None}, "MissingParameter", "StartTime"),
    ({"EndTime": None}, "MissingParameter", "EndTime"),
    ({"InstanceIds__1": None}, "MissingParameter", "InstanceIds.1"),
    ({"Interval": "90"}, "InvalidParameter", "Interval"),
    ({"Interval": "0"}, "InvalidParameter", "Interval"),
    ({"Interval": "-60"}, "InvalidParameter", "Interval"),
    ({"Interval": "7200"}, "InvalidParameter", "Interval"),             # longer than the range
    ({"StartTime": str(minute(-7200))}, "InvalidParameter", "Interval"),  # 2 h: at least 600
    ({"StartTime": str(minute(-32 * 86400)), "Interval": "43200"}, "InvalidParameter", "EndTime"),
    ({"StartTime": str(minute(-3600) + 30)}, "InvalidParameter", "StartTime"),
    ({"StartTime": str(minute(600))}, "InvalidParameter", "StartTime"),
    ({"EndTime": str(minute(3600))}, "InvalidParameter", "EndTime"),
    ({"Port": "80"}, "InvalidParameter", "Port"),
    ({"PageSize": "10"}, "InvalidParameter", "PageSize"),
    ({"InstanceIds__1": "ddoscoo-cn-nope"}, "InvalidInstance.NotFound", "ddoscoo-cn-nope"),
    ({"InstanceIds__1": INST_AP}, "InvalidInstance.NotFound", INST_AP),  # another region
    (dict(("InstanceIds__%d" % n, INST1) for n in range(1, 102)), "InvalidParameter",
     "InstanceIds"),
])
def test_port_flow_list_rejections(stat_servers, overrides, code, mentions):
    assert_error(call(stat_servers["repeated"], stat_params(FLOW, **overrides)), 400, code,
                 mentions)


@pytest.mark.parametrize("style", ["repeated", "wrapper"])
def test_blackhole_status(stat_servers, style):
    s = stat_servers[style]
    section = attack_of(s)
    items = stat_items(call(s, stat_params(BLACKHOLE, InstanceIds__2=INST2)), BLACKHOLE, style)
    assert items == as_text(sim.blackhole_for([INST1, INST2], time.time(), section))
    by_ip = {i["Ip"]: i for i in items}
    first = section["attacks"][0]
    assert list(by_ip) == [sim.default_ip(INST1), IP_A, IP_B1, IP_B2]
    assert by_ip[sim.default_ip(INST1)] == {"Ip": sim.default_ip(INST1), "BlackStatus": "normal",
                                            "StartTime": "0", "EndTime": "0"}
    assert by_ip[IP_A] == {"Ip": IP_A, "BlackStatus": "normal",
                           "StartTime": str(first["blackhole_from"]),
                           "EndTime": str(first["blackhole_to"])}
    assert by_ip[IP_B1]["BlackStatus"] == "normal"
    assert by_ip[IP_B2]["BlackStatus"] == "blackhole"
    assert int(by_ip[IP_B2]["StartTime"]) < time.time() < int(by_ip[IP_B2]["EndTime"])


@pytest.mark.parametrize("overrides,code,mentions", [
    ({"InstanceIds__1": None}, "MissingParameter", "InstanceIds.1"),
    ({"ResourceGroupId": "rg-default"}, "InvalidParameter", "ResourceGroupId"),
    ({"StartTime": str(minute(-60))}, "InvalidParameter", "StartTime"),
    ({"InstanceIds__1": "ddoscoo-cn-nope"}, "InvalidInstance.NotFound", "ddoscoo-cn-nope"),
    (dict(("InstanceIds__%d" % n, INST1) for n in range(1, 22)), "InvalidParameter",
     "At most 20"),
])
def test_blackhole_status_rejections(stat_servers, overrides, code, mentions):
    assert_error(call(stat_servers["repeated"], stat_params(BLACKHOLE, **overrides)), 400, code,
                 mentions)


PORT_MAX_RULES = {INST1: [{"protocol": "tcp", "frontend_port": 443, "backend_port": 443},
                          {"protocol": "udp", "frontend_port": 443, "backend_port": 443},
                          {"protocol": "tcp", "frontend_port": 80, "backend_port": 80}],
                  INST2: [{"protocol": "tcp", "frontend_port": 8080, "backend_port": 80}]}


@pytest.mark.parametrize("style", ["repeated", "wrapper"])
def test_port_max_conns_answers_every_rule_port_of_every_ip(start_sim, style):
    """A row per instance, forwarding rule port (tcp and udp 443 once) and
    IP; each port's peaks add up to at least the Cps DescribePortConnsCount
    answers for that port and minute, and over two minutes an IP's peak is
    the higher minute's."""
    s = start_sim(dict(STAT_CONFIG, rules=PORT_MAX_RULES, list_style=style))
    section = attack_of(s)
    start = minute(-180)
    ports = {INST1: [80, 443], INST2: [8080]}
    items = stat_items(call(s, stat_params(PORT_MAX, StartTime=str(start),
                                           EndTime=str(start + 120),
                                           InstanceIds__2=INST2)), PORT_MAX, style)
    assert items == as_text(sim.port_max_for([INST1, INST2], start, start + 120, ports, section))
    assert [(i["Ip"], i["Port"]) for i in items] == [
        (sim.default_ip(INST1), "80"), (IP_A, "80"), (sim.default_ip(INST1), "443"),
        (IP_A, "443"), (IP_B1, "8080"), (IP_B2, "8080")]
    for iid, port in ((INST1, 80), (INST1, 443), (INST2, 8080)):
        minutes = [sim.port_max_for([iid], m, m + 60, {iid: [port]}, section)
                   for m in (start, start + 60)]
        mine = [int(i["Cps"]) for i in items if i["Port"] == str(port)]
        assert mine == [max(a["Cps"], b["Cps"]) for a, b in zip(*minutes)]
        for m in (start, start + 60):
            conns = call(s, make_params(InstanceIds__1=iid, Port=str(port), Format="JSON",
                                        StartTime=str(m),
                                        EndTime=str(m + 60)))
            cps = json.loads(conns.body)["Cps"]
            assert cps > 0
            assert cps <= sim.port_max_of(iid, port, m, m + 60, section) <= 1.5 * cps + 2


@pytest.mark.parametrize("overrides,code,mentions", [
    ({"StartTime": None}, "MissingParameter", "StartTime"),
    ({"EndTime": None}, "MissingParameter", "EndTime"),
    ({"InstanceIds__1": None}, "MissingParameter", "InstanceIds.1"),
    ({"StartTime": str(minute(-120) + 30)}, "InvalidParameter", "StartTime"),
    ({"EndTime": str(minute(-60) + 1)}, "InvalidParameter", "EndTime"),
    # Not before EndTime: the base's, computed when the test runs.
    ({"StartTime": lambda: str(minute(-60))}, "InvalidParameter", "StartTime"),
    ({"EndTime": str(minute(3600))}, "InvalidParameter", "EndTime"),     # in the future
    ({"StartTime": str(minute(-86460 - 60))}, "InvalidParameter", "EndTime"),  # over a day
    ({"Port": "80"}, "InvalidParameter", "Port"),                        # not documented
    ({"Interval": "60"}, "InvalidParameter", "Interval"),
    ({"InstanceIds__1": "ddoscoo-cn-nope"}, "InvalidInstance.NotFound", "ddoscoo-cn-nope"),
    ({"InstanceIds__1": INST_AP}, "InvalidInstance.NotFound", INST_AP),  # another region
    (dict(("InstanceIds__%d" % n, INST1) for n in range(1, 102)), "InvalidParameter",
     "InstanceIds"),
])
def test_port_max_conns_rejections(stat_servers, overrides, code, mentions):
    overrides = {k: v() if callable(v) else v for k, v in overrides.items()}
    assert_error(call(stat_servers["repeated"], stat_params(PORT_MAX, **overrides)), 400, code,
                 mentions)


# Instance facts: DescribeInstances and DescribeInstanceDetails.

FACTS, DETAILS = "DescribeInstances", "DescribeInstanceDetails"
FACTS_FIELDS = {"InstanceId", "Ip", "Remark", "Edition", "Status", "Enabled", "DebtStatus",
                "ExpireTime", "CreateTime", "IpMode", "IpVersion", "IsFirstOpenBw",
                "IsFirstOpenQps"}


def facts_params(action, **overrides):
    base = {"Action": action, "StartTime": None, "EndTime": None}
    if action == FACTS:
        base.update(PageNumber="1", PageSize="50", InstanceIds__1=None)
    base.update(overrides)
    return make_params(**base)


def details_of(resp, style):
    """{InstanceId: [(Eip, Status), ...]} of a DescribeInstanceDetails
    answer, each level checked against the list style."""
    assert resp.status == 200, resp.body
    root = resp.xml()
    assert root.tag == DETAILS + "Response"
    items = root.findall("InstanceDetails")
    if style == "wrapper":
        assert len(items) == 1
        items = list(items[0])
        assert all(i.tag == "item" for i in items)
    out = {}
    for item in items:
        eips = item.findall("EipInfos")
        if style == "wrapper":
            assert len(eips) == 1
            eips = list(eips[0])
            assert all(e.tag == "item" for e in eips)
        out[item.findtext("InstanceId")] = [(e.findtext("Eip"), e.findtext("Status"))
                                           for e in eips]
        assert item.findtext("Line")
    return out


@pytest.mark.parametrize("style", ["repeated", "wrapper"])
def test_instance_details_list_every_ip(stat_servers, style):
    s = stat_servers[style]
    got = details_of(call(s, facts_params(DETAILS, InstanceIds__2=INST2)), style)
    # INST1: its own address and its attacks' IP; INST2 its two, one blackholed.
    assert got == {INST1: [(sim.default_ip(INST1), "normal"), (IP_A, "defense")],
                   INST2: [(IP_B1, "normal"), (IP_B2, "blackhole")]}
    doc = json.loads(call(s, facts_params(DETAILS, Format=None)).body)
    eip = doc["InstanceDetails"][0]["EipInfos"][0]
    assert set(eip) == {"Eip", "Status", "IpMode", "IpVersion", "CertConfigured",
                        "TlsVersion", "Ssl13Enabled", "FunctionVersion"}


@pytest.mark.parametrize("style", ["repeated", "wrapper"])
def test_describe_instances_pages_with_every_field(stat_servers, style):
    s = stat_servers[style]
    r = call(s, facts_params(FACTS, PageSize="1"))
    root, items = parse_list(r, FACTS, "Instances", style)
    assert root.findtext("TotalCount") == "2"  # of the request's region
    assert [i["InstanceId"] for i in items] == [INST1]
    assert set(items[0]) == FACTS_FIELDS
    assert items[0]["Ip"] == sim.default_ip(INST1)
    assert items[0]["ExpireTime"] == str(sim.INSTANCE_EXPIRE_MS)
    _, items = parse_list(call(s, facts_params(FACTS, PageSize="1", PageNumber="2")), FACTS,
                          "Instances", style)
    assert [i["InstanceId"] for i in items] == [INST2] and items[0]["Ip"] == IP_B1
    _, items = parse_list(call(s, facts_params(FACTS, PageNumber="3", PageSize="1")), FACTS,
                          "Instances", style)
    assert items == []
    # Filters: InstanceIds, an IP of the instance, a part of the Remark.
    _, items = parse_list(call(s, facts_params(FACTS, InstanceIds__1=INST2)), FACTS,
                          "Instances", style)
    assert [i["InstanceId"] for i in items] == [INST2]
    _, items = parse_list(call(s, facts_params(FACTS, Ip=IP_B2)), FACTS, "Instances", style)
    assert [i["InstanceId"] for i in items] == [INST2]


@pytest.mark.parametrize("action,overrides,code,mentions", [
    (FACTS, {"PageNumber": None}, "MissingParameter", "PageNumber"),
    (FACTS, {"PageSize": "51"}, "InvalidParameter", "PageSize"),
    (FACTS, {"PageNumber": "0"}, "InvalidParameter", "PageNumber"),
    (FACTS, {"Enabled": "2"}, "InvalidParameter", "Enabled"),
    (FACTS, dict(("InstanceIds__%d" % n, INST1) for n in range(1, 102)), "InvalidParameter",
     "At most 100"),
    (DETAILS, {"InstanceIds__1": None}, "MissingParameter", "InstanceIds.1"),
    (DETAILS, {"InstanceIds__1": "ddoscoo-cn-nope"}, "InvalidInstance.NotFound",
     "ddoscoo-cn-nope"),
    (DETAILS, dict(("InstanceIds__%d" % n, INST1) for n in range(1, 102)), "InvalidParameter",
     "At most 100"),
    (DETAILS, {"PageSize": "10"}, "InvalidParameter", "PageSize"),
])
def test_instance_facts_rejections(stat_servers, action, overrides, code, mentions):
    assert_error(call(stat_servers["repeated"], facts_params(action, **overrides)), 400, code,
                 mentions)


def test_unlisted_ips_and_forbidden_instances(start_sim):
    section = dict(ATTACK_SECTION, unlisted_ips=[IP_B2], forbidden_instances=[INST2])
    s = start_sim(dict(STAT_CONFIG, attack=section))
    # The answers name the unlisted IP; the facts do not.
    items = stat_items(call(s, stat_params(BLACKHOLE)), BLACKHOLE)
    assert IP_A in [i["Ip"] for i in items]
    got = details_of(call(s, facts_params(DETAILS, InstanceIds__1=INST2)), "repeated")
    assert got == {INST2: [(IP_B1, "normal")]}
    # A request naming the forbidden instance is refused whole; others answer.
    assert_error(call(s, stat_params(BLACKHOLE, InstanceIds__2=INST2)), 403, "Forbidden.RAM")
    assert_error(call(s, stat_params(EVENTS, InstanceIds__1=INST2)), 403, "Forbidden.RAM")
    assert call(s, stat_params(BLACKHOLE)).status == 200
    with pytest.raises(sim.ConfigError):
        sim.check_attack({"unlisted_ips": ["not an ip"]}, 0)
    with pytest.raises(sim.ConfigError):
        sim.check_attack({"forbidden_instances": [""]}, 0)


@pytest.mark.parametrize("style", ["repeated", "wrapper"])
def test_ddos_events_and_paging(stat_servers, style):
    s = stat_servers[style]
    section = attack_of(s)
    start = minute(-7200)
    r = call(s, stat_params(EVENTS, StartTime=str(start), InstanceIds__2=INST2, EndTime=None))
    root, items = parse_list(r, EVENTS, "DDoSEvents", style)
    expected = sim.events_for([INST1, INST2], start, time.time(), time.time(), section)
    assert root.findtext("Total") == "5" and items == as_text(expected)
    assert [(i["EventType"], i["Ip"]) for i in items] == [
        ("blackhole", IP_B2), ("defense", IP_A), ("defense", IP_B2), ("blackhole", IP_A),
        ("defense", IP_A)]
    # Running events end at 0 (the default); ended ones when they ended;
    # a blackhole event has no port.
    assert [i["EndTime"] for i in items[:3]] == ["0", "0", "0"]
    assert items[3]["EndTime"] == str(section["attacks"][0]["blackhole_to"])
    assert (items[3]["Port"], items[1]["Port"], items[4]["Port"]) == ("", "443", "80")
    assert items[4]["Bps"] == "40000000000" and items[4]["Region"] == "cn"
    # Pages of two, then a page past the end: the same events, Total all along.
    paged = []
    for page in (1, 2, 3, 4):
        r = call(s, stat_params(EVENTS, StartTime=str(start), InstanceIds__2=INST2,
                                PageNumber=str(page), PageSize="2"))
        root, got = parse_list(r, EVENTS, "DDoSEvents", style)
        assert root.findtext("Total") == "5"
        paged += got
    assert paged == items
    # Only what overlaps the range: the last half hour misses the old attack.
    r = call(s, stat_params(EVENTS, StartTime=str(minute(-1800))))
    assert [(i["EventType"], i["Port"]) for i in stat_items(r, EVENTS, style)] == \
        [("defense", "443")]


def test_ddos_events_beyond_one_page_in_a_scrambled_order(start_sim):
    now = int(time.time())
    attacks = [{"instance": INST1, "ip": "198.51.100.%d" % (k % 200 + 1), "port": 1000 + k,
                "start": now - 3600 + 20 * k, "peak_bps": 1000 + k, "peak_pps": 10 + k}
               for k in range(120)]
    s = start_sim(dict(BASE_CONFIG, attack={"attacks": attacks, "event_order": "scrambled"}))
    pages = []
    for page in (1, 2, 3, 4):
        r = call(s, stat_params(EVENTS, StartTime=str(minute(-7200)), PageNumber=str(page),
                                PageSize="50"))
        root, got = parse_list(r, EVENTS, "DDoSEvents", "repeated")
        assert root.findtext("Total") == "120"
        pages.append(got)
    assert [len(p) for p in pages] == [50, 50, 20, 0]
    items = [i for p in pages for i in p]
    assert len({i["Port"] for i in items}) == 120
    starts = [int(i["StartTime"]) for i in items]
    assert starts != sorted(starts, reverse=True) and starts != sorted(starts)
    # The same order at every request: pages do not overlap.
    r = call(s, stat_params(EVENTS, StartTime=str(minute(-7200)), PageNumber="2",
                            PageSize="50"))
    assert parse_list(r, EVENTS, "DDoSEvents", "repeated")[1] == pages[1]


def test_ddos_events_premium_region(stat_servers):
    s = stat_servers["repeated"]
    p = stat_params(EVENTS, InstanceIds__1=INST_AP, RegionId="ap-southeast-1")
    items = stat_items(call(s, p), EVENTS)
    assert [(i["EventType"], i["Region"], i["Bps"]) for i in items] == \
        [("defense", "alb-ap-northeast-1-gf-x", "6000000000")]
    assert int(items[0]["EndTime"]) == attack_of(s)["attacks"][3]["end"]


def test_ddos_events_running_end_time_and_selection(start_sim):
    s = start_sim(dict(STAT_CONFIG, attack={}))
    # An absolute start: "now-900" would move with each POST below.
    running = {"instance": INST1, "start": int(time.time()) - 900, "peak_bps": 10 ** 9,
               "peak_pps": 10 ** 5}
    since = str(minute(-600))   # after the event began

    def event(**section):
        assert post_json(s, "attack", dict(section, attacks=[running])).status == 200
        r = call(s, stat_params(EVENTS, StartTime=since))
        return stat_items(r, EVENTS)
    assert event() == event(ongoing_end_time="zero", event_selection="overlap")
    assert event()[0]["EndTime"] == "0"
    assert "EndTime" not in event(ongoing_end_time="absent")[0]
    assert int(event(ongoing_end_time="future")[0]["EndTime"]) > time.time() + 3000
    planned = dict(running, end="now+1200")
    doc = {"ongoing_end_time": "future", "attacks": [planned]}
    assert post_json(s, "attack", doc).status == 200
    assert int(stat_items(call(s, stat_params(EVENTS, StartTime=since)), EVENTS)[0]["EndTime"]) \
        == attack_of(s)["attacks"][0]["end"]
    # "start": only events that begin in the range.
    assert event(event_selection="start") == []
    r = call(s, stat_params(EVENTS, StartTime=str(minute(-1800))))
    assert len(stat_items(r, EVENTS)) == 1


@pytest.mark.parametrize("overrides,code,mentions", [
    ({"StartTime": None}, "MissingParameter", "StartTime"),
    ({"PageNumber": None}, "MissingParameter", "PageNumber"),
    ({"PageSize": None}, "MissingParameter", "PageSize"),
    ({"InstanceIds__1": None}, "MissingParameter", "InstanceIds.1"),
    ({"PageNumber": "0"}, "InvalidParameter", "PageNumber"),
    ({"PageSize": "0"}, "InvalidParameter", "PageSize"),
    ({"PageSize": "51"}, "InvalidParameter", "PageSize"),
    ({"PageSize": "ten"}, "InvalidParameter", "PageSize"),
    ({"StartTime": str(minute(-7200) + 1)}, "InvalidParameter", "StartTime"),
    ({"EndTime": str(minute(-7200))}, "InvalidParameter", "StartTime"),
    ({"EndTime": str(minute(3600))}, "InvalidParameter", "EndTime"),
    ({"StartTime": str(minute(3600)), "EndTime": None}, "InvalidParameter", "StartTime"),
    ({"Interval": "60"}, "InvalidParameter", "Interval"),
    ({"InstanceId": INST1}, "InvalidParameter", "InstanceId"),
    ({"InstanceIds__2": "ddoscoo-cn-nope"}, "InvalidInstance.NotFound", "ddoscoo-cn-nope"),
])
def test_ddos_events_rejections(stat_servers, overrides, code, mentions):
    assert_error(call(stat_servers["repeated"], stat_params(EVENTS, **overrides)), 400, code,
                 mentions)


def test_stat_operations_v3_json_and_shuffle(stat_servers):
    s = stat_servers["wrapper"]
    section = attack_of(s)
    start, end = minute(-600), minute()
    p = {"Format": "XML", "StartTime": str(start), "EndTime": str(end), "Interval": "60",
         "InstanceIds.1": INST1}
    r = v3_call(s, p, v3_headers(s, x_acs_action=FLOW))
    assert stat_items(r, FLOW, "wrapper") == as_text(sim.flow_for([INST1], start, end, 60, section))
    h = v3_headers(s, key="stsid", x_acs_action=BLACKHOLE)
    r = v3_call(s, {"InstanceIds.1": INST2}, h, method="GET", key="stsid")   # JSON
    assert json.loads(r.body)["BlackholeStatus"] == sim.blackhole_for([INST2], time.time(), section)
    h = v3_headers(s, x_acs_action=EVENTS)
    r = v3_call(s, {"Format": "XML", "StartTime": str(minute(-7200)), "PageNumber": "1",
                    "PageSize": "10", "InstanceIds.1": INST1}, h)
    assert len(stat_items(r, EVENTS, "wrapper")) == 3
    h = v3_headers(s, x_acs_action=EVENTS)
    assert_error(v3_call(s, {"Format": "XML", "StartTime": str(start), "PageNumber": "1",
                             "PageSize": "10"}, h), 400, "MissingParameter", "InstanceIds.1")
    h = v3_headers(s, x_acs_action=FLOW)
    assert_error(v3_call(s, p, h, secret="bad"), 400, "SignatureDoesNotMatch")
    # V1, JSON (no Format), POST form body.
    r = call(s, stat_params(EVENTS, Format=None, StartTime=str(minute(-7200))), "POST", form=True)
    doc = json.loads(r.body)
    assert doc["Total"] == 3 and doc["DDoSEvents"] == sim.events_for(
        [INST1], minute(-7200), time.time(), time.time(), section)
    # Field order varies between requests; items keep their order.
    orders = set()
    for _ in range(8):
        root = call(s, stat_params(FLOW, StartTime=str(start), EndTime=str(end))).xml()
        orders.add(tuple(c.tag for c in root.find("PortFlowList")[0]))
    assert len(orders) > 1


def test_runtime_attack_and_faults(start_sim):
    s = start_sim(dict(BASE_CONFIG, list_faults={FLOW: {"mode": "throttle", "count": 1}}))
    p = stat_params(FLOW, StartTime=str(minute(-600)), EndTime=str(minute()))
    assert_error(call(s, p), 400, "Throttling.User")
    quiet = stat_items(call(s, dict(p, SignatureNonce=uuid.uuid4().hex)), FLOW)
    assert {i["AttackBps"] for i in quiet} == {"0"} and int(quiet[0]["InBps"]) > 0
    assert stat_items(call(s, stat_params(EVENTS)), EVENTS) == []
    # An attack from five minutes ago, blackholed from two minutes ago.
    doc = {"attacks": [{"instance": INST1, "ip": IP_A, "start": "now-300", "end": "now+600",
                        "peak_bps": 20000000000, "peak_pps": 2000000,
                        "blackhole_from": "now-120", "blackhole_to": "now+300"}]}
    assert post_json(s, "attack", doc).status == 200
    shown = json.loads(send(s.base + "/_sim/attack").body)
    assert abs(shown["attacks"][0]["start"] - (shown["now"] - 300)) < 30
    loud = stat_items(call(s, dict(p, SignatureNonce=uuid.uuid4().hex)), FLOW)
    assert loud == as_text(sim.flow_for([INST1], minute(-600), minute(), 60, attack_of(s)))
    assert max(int(i["AttackBps"]) for i in loud) > 10 ** 9
    assert [i["EventType"] for i in stat_items(call(s, stat_params(EVENTS)), EVENTS)] == \
        ["blackhole", "defense"]
    status = stat_items(call(s, stat_params(BLACKHOLE)), BLACKHOLE)
    assert [(i["Ip"], i["BlackStatus"]) for i in status] == \
        [(sim.default_ip(INST1), "normal"), (IP_A, "blackhole")]
    # A bad body changes nothing.
    r = post_json(s, "attack", {"attacks": [dict(doc["attacks"][0], peak_bps=0)]})
    assert r.status == 400 and b"peak_bps" in r.body
    assert attack_of(s)["attacks"][0]["peak_bps"] == 20000000000
    entries = [e for e in s.log_entries() if e.get("action") in (FLOW, EVENTS, BLACKHOLE)]
    assert entries[0]["fault"] == "throttle" and entries[1]["listed"][0].endswith("/cn")
    assert entries[-1]["listed"] == ["%s:normal" % sim.default_ip(INST1), IP_A + ":blackhole"]
    assert [e["code"] for e in s.log_entries() if e["path"] == "/_sim/attack"] == \
        [None, "BadAttack"]


def test_flow_values_are_pure_and_smooth():
    section = sim.check_attack({"attacks": [
        {"instance": INST1, "start": 1_700_000_000, "end": 1_700_003_600,
         "peak_bps": 40_000_000_000, "peak_pps": 5_000_000}]}, 0)
    start = 1_700_000_000 // 60 * 60 - 3600
    rows = sim.flow_for([INST1], start, start + 3 * 3600, 60, section)
    assert rows == sim.flow_for([INST1], start, start + 3 * 3600, 60, section,
                                now=start + 10 ** 6)
    assert rows[:60] == sim.flow_for([INST1], start, start + 3600, 60)   # before the attack
    assert rows[60]["AttackBps"] == 0 < rows[61]["AttackBps"] < rows[62]["AttackBps"]
    assert max(r["AttackBps"] for r in rows) <= 40_000_000_000
    assert rows[-1]["AttackBps"] == 0
    # A longer bucket holds the maximum of its minutes: the ramp's top.
    ten = sim.flow_for([INST1], start + 3600, start + 7200, 600, section)[0]
    assert ten["AttackBps"] == max(r["AttackBps"] for r in rows[60:70]) > rows[61]["AttackBps"]
    base = [sim.baseline_for(INST1, start + 60 * n) for n in range(1440)]
    for a, b in zip(base, base[1:]):
        assert abs(a["InBps"] - b["InBps"]) < 0.03 * a["InBps"]
    assert min(b["InBps"] for b in base) > 20_000_000
    assert sim.baseline_for(INST1, start) != sim.baseline_for(INST2, start)


def test_values_for_deterministic_and_consistent():
    a = sim.values_for([INST1], None, 1700000000 - 20, 1700000040)
    assert a == sim.values_for([INST1], None, "1699999980", "1700000040")
    assert a != sim.values_for([INST1], "80", 1699999980, 1700000040)
    assert sim.values_for([INST1], 80, 1699999980, 1700000040) == \
        sim.values_for([INST1], "80", 1699999980, 1700000040)
    for i in range(200):
        v = sim.values_for([INST1, "x%d" % i], str(i + 1), i * 600, i * 600 + 60)
        assert list(v) == ["Conns", "ActConns", "InActConns", "Cps"]
        assert 100 <= v["Conns"] <= 400_000
        assert 0 < v["ActConns"] and 0 < v["InActConns"]
        assert v["ActConns"] + v["InActConns"] <= v["Conns"]
        assert 0 < v["Cps"] < v["Conns"]


def test_connections_follow_a_smooth_day():
    start = 1_700_000_000 // 60 * 60
    for iid, port in ((INST1, None), (INST1, "80"), (INST2, "443")):
        day = [sim.values_for([iid], port, start + 60 * n, start + 60 * n + 60)["Conns"]
               for n in range(1440)]
        # Neighbouring minutes differ by the noise, not at random...
        for a, b in zip(day, day[1:]):
            assert abs(a - b) < 0.06 * a, (iid, port)
        # ...but the day swells and ebbs.
        assert max(day) > 1.4 * min(day)
    one = sim.values_for([INST1], "80", start, start + 60)
    assert one != sim.values_for([INST2], "80", start, start + 60)
    # Several instances add up; a longer window answers its busiest minute.
    two = sim.values_for([INST2], "80", start, start + 60)
    assert sim.values_for([INST1, INST2], "80", start, start + 60) == \
        {k: one[k] + two[k] for k in one}
    minutes = [sim.values_for([INST1], "80", start + 60 * n, start + 60 * n + 60)
               for n in range(10)]
    ten = sim.values_for([INST1], "80", start, start + 600)
    assert ten == dict(max(minutes, key=lambda v: v["Conns"]),
                       Cps=max(v["Cps"] for v in minutes))


def test_connections_rise_with_an_attack_on_their_port():
    start = 1_700_000_000 // 60 * 60
    section = sim.check_attack({"attacks": [
        {"instance": INST1, "ip": IP_A, "port": 80, "start": start + 600,
         "end": start + 4200, "ramp_seconds": 300, "peak_bps": 40_000_000_000,
         "peak_pps": 5_000_000, "blackhole_from": start + 3000, "blackhole_to": start + 3600}]},
        0)

    def at(n, port="80", iid=INST1, attack=section):
        return sim.values_for([iid], port, start + 60 * n, start + 60 * n + 60, attack)

    quiet = [at(n, attack=None) for n in range(80)]
    # Before and after the attack, and on other ports (but while its IP is
    # blackholed) and instances, as without it.
    assert [at(n) for n in range(10)] == quiet[:10]
    assert [at(n) for n in range(70, 80)] == quiet[70:]
    assert all(at(n, "443") == at(n, "443", attack=None) for n in range(0, 80, 7)
               if not 50 <= n < 60)
    assert all(at(n, iid=INST2) == at(n, iid=INST2, attack=None) for n in range(0, 80, 7))
    # On the plateau: 50,000 new connections a second, 200,000 of them
    # half-open, mostly inactive, on the port and in the instance's total.
    peak = at(30)
    assert 180_000 < peak["Conns"] - quiet[30]["Conns"] <= 200_000
    assert 40_000 < peak["Cps"] - quiet[30]["Cps"] <= 50_000
    assert peak["InActConns"] - quiet[30]["InActConns"] > 150_000
    assert peak["ActConns"] + peak["InActConns"] <= peak["Conns"]
    assert at(30, None)["Conns"] - at(30, None, attack=None)["Conns"] == \
        peak["Conns"] - quiet[30]["Conns"]
    # It ramps up over five minutes, not in one jump.
    ramp = [at(n)["Conns"] for n in range(10, 16)]
    assert ramp == sorted(ramp) and ramp[1] < peak["Conns"] / 2 < ramp[-1]
    # Blackholed: the attack and the IP's share (one of two) of the rest are gone.
    dark = at(55)
    assert abs(dark["Conns"] - quiet[55]["Conns"] / 2) <= 1


def test_server_answers_connections_of_its_attack(stat_servers):
    # The open-ended attack on INST1's port 443 is on the plateau.
    s = stat_servers["repeated"]
    p = make_params(Port="443", StartTime=str(minute(-120)), EndTime=str(minute(-60)))
    got = check_success(call(s, p), [INST1])
    assert got == sim.values_for([INST1], "443", minute(-120), minute(-60), attack_of(s))
    assert got["Cps"] > sim.values_for([INST1], "443", minute(-120), minute(-60))["Cps"] + 2000


def test_attack_config_validation():
    good = {"instance": INST1, "start": "now", "peak_bps": 1, "peak_pps": 1}
    for bad in ({"attacks": [dict(good, start="yesterday")]},
                {"attacks": [dict(good, end="now-60")]},
                {"attacks": [dict(good, peak_bps=0)]},
                {"attacks": [dict(good, peak_pps=1.5)]},
                {"attacks": [dict(good, port=0)]},
                {"attacks": [dict(good, ip="203.0.113.300")]},
                {"attacks": [dict(good, blackhole_from="now+60")]},
                {"attacks": [dict(good, blackhole_from="now-60", blackhole_to="now+60")]},
                {"attacks": [dict(good, colour="red")]},
                {"attacks": [{"start": "now", "peak_bps": 1, "peak_pps": 1}]},
                {"attacks": good}, {"ongoing_end_time": "never"}, {"event_selection": "any"},
                {"event_order": "oldest"},
                {"flow_regions": []}, {"flow_regions": ["cn", "cn"]},
                {"instance_ips": {INST1: []}}, {"flow_delay_seconds": -1}, {"colour": 1}):
        with pytest.raises(sim.ConfigError):
            sim.load_config(dict(BASE_CONFIG, attack=bad))
    cfg = sim.load_config(dict(BASE_CONFIG, attack={"attacks": [dict(good, start=1000)]}))
    a = cfg["attack"]["attacks"][0]
    assert a == {"instance": INST1, "ip": sim.default_ip(INST1), "port": 80, "start": 1000,
                 "end": None, "peak_bps": 1, "peak_pps": 1, "ramp_seconds": 120,
                 "blackhole_from": None, "blackhole_to": None, "region": "cn",
                 "sources": []}
    assert sim.load_config(BASE_CONFIG)["attack"] == sim.ATTACK_DEFAULTS
    with pytest.raises(sim.ConfigError):
        sim.load_config(dict(BASE_CONFIG, list_faults={"DescribeWebRules": {"mode": "throttle"}}))


# -- web statistics: DescribeDomains, DescribeDomainQPSList, DescribeDomainStatusCodeList

QPS, CODES, DOMAINS = "DescribeDomainQPSList", "DescribeDomainStatusCodeList", "DescribeDomains"
WEB1, WEB2 = "www.example.com", "shop.example.net"
WEB_CONFIG = dict(BASE_CONFIG, instances=[INST1, INST2],
                  domains={WEB1: [INST1], WEB2: [INST2]},
                  attack={"floods": [{"domain": WEB1, "start": "now-1800", "peak_qps": 20000}]})


@pytest.fixture(scope="module")
def web_servers(tmp_path_factory):
    sims = {style: RunningSim(tmp_path_factory.mktemp("web-" + style),
                              dict(WEB_CONFIG, list_style=style))
            for style in ("repeated", "wrapper")}
    yield sims
    for s in sims.values():
        assert s.stop() == 0


def web_params(action, **overrides):
    base = {"Action": action, "InstanceIds.1": None, "Port": None,
            "StartTime": str(minute(-3600)), "EndTime": str(minute()), "Interval": "60",
            "Domain": WEB1}
    if action == CODES:
        base["QueryType"] = "gf"
    if action == DOMAINS:
        base.update(StartTime=None, EndTime=None, Interval=None, Domain=None)
    base.update(overrides)
    return make_params(**base)


def web_items(resp, action, style="repeated"):
    return parse_list(resp, action, {QPS: "DomainQPSList", CODES: "StatusCodeList"}[action],
                      style)[1]


@pytest.mark.parametrize("style", ["repeated", "wrapper"])
def test_describe_domains_lists_and_filters(web_servers, style):
    s = web_servers[style]
    r = call(s, web_params(DOMAINS))
    assert r.status == 200, r.body
    root = r.xml()
    if style == "wrapper":
        assert [e.text for e in root.find("Domains")] == [WEB1, WEB2]
    else:
        assert [e.text for e in root.findall("Domains")] == [WEB1, WEB2]
    r = call(s, web_params(DOMAINS, InstanceIds__1=INST2))
    names = [e.text for e in (root.find("Domains") if style == "wrapper" else [])]
    root = r.xml()
    names = ([e.text for e in root.find("Domains")] if style == "wrapper"
             else [e.text for e in root.findall("Domains")])
    assert names == [WEB2]
    assert call(s, web_params(DOMAINS, InstanceIds__1="ddoscoo-cn-nope")).code() == \
        "InvalidInstance.NotFound"
    # Domains do not take the statistics' parameters.
    assert call(s, web_params(DOMAINS, Domain=WEB1)).code() == "InvalidParameter"


def test_domains_change_at_run_time(web_servers):
    s = web_servers["repeated"]
    body = json.dumps({"add": {"new.example.org": []}, "remove": [WEB2]}).encode()
    assert send(s.base + "/_sim/domains", "POST", body).status == 200
    try:
        names = [e.text for e in call(s, web_params(DOMAINS)).xml().findall("Domains")]
        assert names == [WEB1, "new.example.org"]
        assert call(s, web_params(QPS, Domain=WEB2)).code() == "InvalidDomain.NotFound"
    finally:
        body = json.dumps({"add": {WEB2: [INST2]}, "remove": ["new.example.org"]}).encode()
        assert send(s.base + "/_sim/domains", "POST", body).status == 200


@pytest.mark.parametrize("style", ["repeated", "wrapper"])
def test_qps_list_under_a_flood(web_servers, style):
    s = web_servers[style]
    section = attack_of(s)
    flood = section["floods"][0]
    start = flood["start"] // 60 * 60 - 600
    items = web_items(call(s, web_params(QPS, StartTime=str(start),
                                         EndTime=str(start + 1800))), QPS, style)
    expected = sim.web_for(QPS, [WEB1], start, start + 1800, 60, section)
    assert len(items) == 30 and items == as_text(expected)
    assert [int(i["Time"]) for i in items] == list(range(start, start + 1800, 60))
    # Before the flood: no attack; on its plateau: attack QPS near the peak.
    assert all(i["AttackQps"] == "0" for i in items[:10])
    assert 19000 < int(items[-1]["AttackQps"]) <= 20000
    assert int(items[-1]["TotalQps"]) > int(items[-1]["AttackQps"])
    assert int(items[-1]["TotalCount"]) == 60 * int(items[-1]["TotalQps"])
    # A smooth rise over the two-minute ramp; after it the plateau wavers.
    rising = [int(i["AttackQps"]) for i in items[10:14]]
    assert rising[:3] == sorted(rising[:3]) and 0 < rising[1] < 10000 and rising[3] > 15000


def test_status_codes_edge_calm_origin_failing(web_servers):
    s = web_servers["repeated"]
    section = attack_of(s)
    start = section["floods"][0]["start"] // 60 * 60 - 600
    edge = web_items(call(s, web_params(CODES, StartTime=str(start), EndTime=str(start + 1800),
                                        QueryType="gf")), CODES)
    origin = web_items(call(s, web_params(CODES, StartTime=str(start),
                                          EndTime=str(start + 1800), QueryType="upstrem")),
                       CODES)
    assert edge == as_text(sim.web_for(CODES, [WEB1], start, start + 1800, 60, section, "gf"))
    assert origin == as_text(sim.web_for(CODES, [WEB1], start, start + 1800, 60, section,
                                         "upstrem"))
    before, during = slice(0, 10), slice(20, 30)
    # The origin's 5xx storm; the edge's 5xx as before, its 4xx up (blocked).
    assert all(o["Status5XX"] == "0" for o in origin[before])
    assert all(int(o["Status5XX"]) > int(o["Status2XX"]) for o in origin[during])
    edge_5xx = [int(e["Status5XX"]) for e in edge]
    assert max(edge_5xx) < 2 * min(edge_5xx) + 10
    assert all(int(e["Status4XX"]) > 10 * int(b["Status4XX"])
               for e, b in zip(edge[during], edge[before]))
    for row in edge + origin:
        assert int(row["Status5XX"]) == sum(int(row[k]) for k in
                                            ("Status501", "Status502", "Status503", "Status504"))


def test_web_operations_are_strict(web_servers):
    s = web_servers["repeated"]
    now = minute()
    cases = [
        (web_params(QPS, EndTime=None), "MissingParameter"),
        (web_params(QPS, Interval=None), "MissingParameter"),
        (web_params(CODES, QueryType=None), "MissingParameter"),
        (web_params(CODES, QueryType="upstream"), "InvalidParameter"),
        (web_params(CODES, QueryType="GF"), "InvalidParameter"),
        (web_params(QPS, StartTime=str(now - 3630)), "InvalidParameter"),
        (web_params(QPS, Interval="30"), "InvalidParameter"),
        (web_params(QPS, Interval="90"), "InvalidParameter"),
        (web_params(QPS, StartTime=str(now - 7200), Interval="60"), "InvalidParameter"),
        (web_params(QPS, EndTime=str(now + 120)), "InvalidParameter"),
        (web_params(QPS, InstanceIds__1=INST1), "InvalidParameter"),
        (web_params(QPS, Domain="nope.example.com"), "InvalidDomain.NotFound"),
        (web_params(CODES, Domain="nope.example.com"), "InvalidDomain.NotFound"),
    ]
    for params, code in cases:
        r = call(s, params)
        assert r.status == 400 and r.code() == code, (params, r.body)
    # Without EndTime the codes run to the current minute; without Domain
    # every domain's are added up.
    r = call(s, web_params(CODES, EndTime=None, StartTime=str(now - 600)))
    assert len(web_items(r, CODES)) == 10
    both = web_items(call(s, web_params(QPS, Domain=None, StartTime=str(now - 600),
                                        EndTime=str(now))), QPS)
    one = sim.web_for(QPS, [WEB1], now - 600, now, 60, attack_of(s))
    two = sim.web_for(QPS, [WEB2], now - 600, now, 60, attack_of(s))
    assert [int(r["TotalCount"]) for r in both] == [a["TotalCount"] + b["TotalCount"]
                                                    for a, b in zip(one, two)]


def test_web_list_faults(web_servers):
    s = web_servers["repeated"]
    body = json.dumps({QPS: {"mode": "garbage", "count": 1}}).encode()
    assert send(s.base + "/_sim/list_faults", "POST", body).status == 200
    r = call(s, web_params(QPS))
    assert r.status == 200 and r.body == b"this is not xml"
    assert call(s, web_params(QPS)).status == 200


# ---------------------------------------------------------------------------
# Only documented parameters, every list shape, the origin's QueryType
# ---------------------------------------------------------------------------

ALL_OPS_CONFIG = dict(WEB_CONFIG, instances=[INST1, INST2], rules={INST1: RULES1},
                      attack=dict(WEB_CONFIG["attack"], **ATTACK_SECTION))


@pytest.fixture(scope="module")
def all_ops(tmp_path_factory):
    s = RunningSim(tmp_path_factory.mktemp("all-ops"), ALL_OPS_CONFIG)
    yield s
    assert s.stop() == 0


def op_params(action, **overrides):
    """A valid request of any operation the plugin calls."""
    if action in (QPS, CODES, DOMAINS):
        return web_params(action, **overrides)
    if action in (FLOW, BLACKHOLE, EVENTS):
        return stat_params(action, **overrides)
    if action == "DescribeNetworkRules":
        return rules_params(1, 50, **overrides)
    if action == "DescribeInstanceIds":
        return list_params(action, **overrides)
    return make_params(**overrides)


# Each operation, what its request model (SDK, doc/api-operations.md) has
# of ResourceGroupId and Port, and an undocumented parameter.
MODELS = [
    ("DescribePortConnsCount", True, True),
    (FLOW, True, False),
    (BLACKHOLE, False, False),
    (EVENTS, True, False),
    (QPS, True, False),
    (CODES, True, False),
    ("DescribeInstanceIds", True, False),
    ("DescribeNetworkRules", False, False),
    (DOMAINS, True, False),
]


@pytest.mark.parametrize("action,resource_group,port", MODELS)
def test_every_operation_refuses_undocumented_parameters(all_ops, action, resource_group, port):
    assert call(all_ops, op_params(action)).status == 200
    for name, value, taken in (("ResourceGroupId", "rg-default", resource_group),
                               ("Port", "80", port), ("Verbose", "true", False)):
        r = call(all_ops, op_params(action, **{name: value}))
        if taken:
            assert r.status == 200, (name, r.body)
        else:
            assert_error(r, 400, "InvalidParameter", name)


def test_empty_lists_written_each_way():
    fields = [("RequestId", "r"), ("Domains", sim.ListValue())]
    want = {None: {"repeated": "", "wrapper": "<Domains></Domains>"},
            "absent": {"repeated": "", "wrapper": ""},
            "open_close": {"repeated": "<Domains></Domains>", "wrapper": "<Domains></Domains>"},
            "self_closing": {"repeated": "<Domains/>", "wrapper": "<Domains/>"}}
    for empty, by_style in want.items():
        for style, inner in by_style.items():
            assert sim.list_xml(fields, "R", style, prolog="", empty=empty) == \
                "<R><RequestId>r</RequestId>%s</R>" % inner
    # A list with items is as its style has it, whatever empty_list says.
    one = [("Domains", sim.ListValue(["a.example"]))]
    assert sim.list_xml(one, "R", "repeated", "", "self_closing") == \
        "<R><Domains>a.example</Domains></R>"
    assert sim.list_xml(one, "R", "wrapper", "", "absent") == \
        "<R><Domains><item>a.example</item></Domains></R>"


@pytest.mark.parametrize("empty", ["absent", "open_close", "self_closing"])
def test_empty_lists_served_each_way(start_sim, empty):
    s = start_sim(dict(ALL_OPS_CONFIG, list_style="wrapper", empty_list=empty, domains={}))
    written = {"absent": "", "open_close": "<%s></%s>", "self_closing": "<%s/>"}[empty]
    # No web domains; an instance without rules.
    for params, name in ((op_params(DOMAINS), "Domains"),
                         (rules_params(1, 50, iid=INST2), "NetworkRules")):
        r = call(s, params)
        assert r.status == 200, r.body
        body = re.sub(r"<RequestId>[^<]*</RequestId>|<TotalCount>0</TotalCount>", "",
                      r.body.decode())
        root = r.xml().tag
        assert body == "%s<%s>%s</%s>" % (sim.XML_DECL, root, written.replace("%s", name),
                                          root)
    with pytest.raises(sim.ConfigError):
        sim.load_config(dict(ALL_OPS_CONFIG, empty_list="none"))


@pytest.mark.parametrize("origin", ["upstrem", "upstream"])
def test_origin_query_type_takes_one_spelling(start_sim, origin):
    config = dict(ALL_OPS_CONFIG)
    if origin != "upstrem":
        config["origin_query_type"] = origin
    s = start_sim(config)
    other = {"upstrem": "upstream", "upstream": "upstrem"}[origin]
    now = minute()
    r = call(s, web_params(CODES, QueryType=other, StartTime=str(now - 600)))
    assert_error(r, 400, "InvalidParameter", "QueryType")
    r = call(s, web_params(CODES, QueryType=origin, StartTime=str(now - 600)))
    want = sim.web_for(CODES, [WEB1], now - 600, now, 60, attack_of(s), "upstrem")
    assert web_items(r, CODES) == as_text(want)
    assert call(s, web_params(CODES, QueryType="gf")).status == 200
    with pytest.raises(sim.ConfigError):
        sim.load_config(dict(ALL_OPS_CONFIG, origin_query_type="origin"))


def test_hostile_and_many_blackhole_ips():
    # Any text as an Ip (a hostile answer), after the instance's own IPs;
    # N more distinct IPv4 addresses; both answered "normal".
    section = sim.check_attack({"instance_ips": {"i-1": ["203.0.113.1"]},
                                "hostile_ips": {"i-1": ["a b", "x\u0085", "9" * 300]},
                                "many_ips": {"i-2": 300}}, 0)
    rows = sim.blackhole_for(["i-1", "i-2"], 0, section)
    assert [r["Ip"] for r in rows[:4]] == ["203.0.113.1", "a b", "x\u0085", "9" * 300]
    many = [r["Ip"] for r in rows[5:]]  # after i-2's default IP
    assert rows[4]["Ip"] == sim.default_ip("i-2")
    assert len(many) == 300 and len(set(many)) == 300 and many[:2] == ["10.0.0.0", "10.0.0.1"]
    assert all(r["BlackStatus"] == "normal" for r in rows[1:])
    for bad in ({"hostile_ips": {"i-1": "a"}}, {"hostile_ips": {"i-1": ["\x00"]}},
                {"many_ips": {"i-1": -1}}, {"many_ips": {"i-1": 10 ** 6}}):
        with pytest.raises(sim.ConfigError):
            sim.check_attack(bad, 0)


# -- HTTP floods: DescribeDomainAttackEvents, DescribeWebReportTopIp

CC_EVENTS, TOP_IP = "DescribeDomainAttackEvents", "DescribeWebReportTopIp"
BOTS = [{"ip": "198.51.100.7", "area_id": "90998690", "isp": "100017", "count": 5000},
        {"ip": "2001:db8::66", "area_id": "440000", "isp": "100026", "count": 9000},
        {"ip": "bad<ip>&", "area_id": "x\"y", "isp": "1", "count": 10}]
CC_CONFIG = dict(BASE_CONFIG, instances=[INST1], domains={WEB1: [INST1], WEB2: [INST1]},
                 attack={"floods": [
                     {"domain": WEB1, "start": "now-7200", "end": "now-3600",
                      "peak_qps": 3000, "sources": BOTS[:1]},
                     {"domain": WEB1, "start": "now-1800", "peak_qps": 20000, "sources": BOTS},
                     {"domain": WEB2, "start": "now-600", "peak_qps": 100}]},
                 domain_regions={WEB2: "cn-hongkong"})


@pytest.fixture(scope="module")
def cc_server(tmp_path_factory):
    s = RunningSim(tmp_path_factory.mktemp("cc"), CC_CONFIG)
    yield s
    assert s.stop() == 0


def cc_params(action, **overrides):
    base = {"Action": action, "InstanceIds.1": None, "Port": None,
            "StartTime": str(minute(-86400)), "EndTime": str(minute()), "Domain": WEB1}
    if action == CC_EVENTS:
        base.update(PageNumber="1", PageSize="50")
    else:
        base.update(Interval="300", QueryType="block", Top="5")
    base.update(overrides)
    return make_params(**base)


def test_cc_events_of_a_domain_paged(cc_server):
    s, section = cc_server, attack_of(cc_server)
    r = call(s, cc_params(CC_EVENTS))
    root, items = parse_list(r, CC_EVENTS, "DomainAttackEvents", "repeated")
    assert root.findtext("TotalCount") == "2"
    running, over = section["floods"][1], section["floods"][0]
    # Newest first; the running one's EndTime 0, the other's its end.
    assert items == [{"Domain": WEB1, "StartTime": str(running["start"]), "EndTime": "0",
                      "MaxQps": "20000"},
                     {"Domain": WEB1, "StartTime": str(over["start"]),
                      "EndTime": str(over["end"]), "MaxQps": "3000"}]
    assert items == as_text(sim.cc_events_for([WEB1], minute(-86400), minute(), time.time(),
                                              section))
    # Page 2 of one a page; a range after the first flood; every domain.
    r = call(s, cc_params(CC_EVENTS, PageNumber="2", PageSize="1"))
    root, items = parse_list(r, CC_EVENTS, "DomainAttackEvents", "repeated")
    assert root.findtext("TotalCount") == "2" and [i["MaxQps"] for i in items] == ["3000"]
    r = call(s, cc_params(CC_EVENTS, StartTime=str(minute(-1200))))
    assert [i["MaxQps"] for i in parse_list(r, CC_EVENTS, "DomainAttackEvents",
                                            "repeated")[1]] == ["20000"]
    r = call(s, cc_params(CC_EVENTS, Domain=None))
    assert sorted(i["Domain"] for i in parse_list(r, CC_EVENTS, "DomainAttackEvents",
                                                  "repeated")[1]) == sorted([WEB1, WEB1, WEB2])


def test_top_ips_of_a_flood(cc_server):
    s, section = cc_server, attack_of(cc_server)
    start = section["floods"][1]["start"] // 60 * 60
    r = call(s, cc_params(TOP_IP, StartTime=str(start)))
    items = parse_list(r, TOP_IP, "DataList", "repeated")[1]
    # The scripted sources, most Count first, text as scripted (hostile).
    assert items == [{"SourceIp": "2001:db8::66", "AreaId": "440000", "Isp": "100026",
                      "Count": "9000"},
                     {"SourceIp": "198.51.100.7", "AreaId": "90998690", "Isp": "100017",
                      "Count": "5000"},
                     {"SourceIp": "bad<ip>&", "AreaId": "x\"y", "Isp": "1", "Count": "10"}]
    # Both floods: a source's counts added up; Top cuts; visit adds visitors.
    r = call(s, cc_params(TOP_IP, Top="1"))
    assert [i["Count"] for i in parse_list(r, TOP_IP, "DataList", "repeated")[1]] == ["10000"]
    r = call(s, cc_params(TOP_IP, StartTime=str(start), QueryType="visit", Top=None))
    ips = [i["SourceIp"] for i in parse_list(r, TOP_IP, "DataList", "repeated")[1]]
    assert ips == ["2001:db8::66", "198.51.100.7", "bad<ip>&", "192.0.2.80", "192.0.2.81"]
    # No flood in the range: an empty list.
    r = call(s, cc_params(TOP_IP, StartTime=str(minute(-3000)), EndTime=str(minute(-2400))))
    assert parse_list(r, TOP_IP, "DataList", "repeated")[1] == []


def test_cc_operations_are_strict(cc_server):
    now = minute()
    cases = [
        (cc_params(CC_EVENTS, PageNumber=None), "MissingParameter"),
        (cc_params(CC_EVENTS, PageSize=None), "MissingParameter"),
        (cc_params(CC_EVENTS, EndTime=None), "MissingParameter"),
        (cc_params(CC_EVENTS, PageSize="51"), "InvalidParameter"),
        (cc_params(CC_EVENTS, PageNumber="0"), "InvalidParameter"),
        (cc_params(CC_EVENTS, StartTime=str(now - 3630)), "InvalidParameter"),
        (cc_params(CC_EVENTS, EndTime=str(now + 120)), "InvalidParameter"),
        (cc_params(CC_EVENTS, InstanceIds__1=INST1), "InvalidParameter"),
        (cc_params(CC_EVENTS, Interval="60"), "InvalidParameter"),
        (cc_params(CC_EVENTS, Domain="nope.example.com"), "InvalidDomain.NotFound"),
        (cc_params(TOP_IP, Interval=None), "MissingParameter"),
        (cc_params(TOP_IP, QueryType=None), "MissingParameter"),
        (cc_params(TOP_IP, StartTime=None), "MissingParameter"),
        (cc_params(TOP_IP, QueryType="blocked"), "InvalidParameter"),
        (cc_params(TOP_IP, Interval="60"), "InvalidParameter"),
        (cc_params(TOP_IP, StartTime=str(now - 3 * 86400), Interval="300"), "InvalidParameter"),
        (cc_params(TOP_IP, StartTime=str(now - 31 * 86400), Interval="3600"),
         "InvalidParameter"),
        (cc_params(TOP_IP, Top="0"), "InvalidParameter"),
        (cc_params(TOP_IP, Top="101"), "InvalidParameter"),
        (cc_params(TOP_IP, ResourceGroupId="rg-default"), "InvalidParameter"),
        (cc_params(TOP_IP, Domain="nope.example.com"), "InvalidDomain.NotFound"),
    ]
    for params, code in cases:
        r = call(cc_server, params)
        assert r.status == 400 and r.code() == code, (params, r.body)
    for interval, days in (("3600", 3), ("86400", 31)):
        r = call(cc_server, cc_params(TOP_IP, StartTime=str(now - days * 86400),
                                      Interval=interval))
        assert r.status == 200, r.body
    for bad in ({"floods": [{"domain": WEB1, "start": 0, "peak_qps": 1, "sources": "x"}]},
                {"floods": [{"domain": WEB1, "start": 0, "peak_qps": 1,
                             "sources": [{"ip": "1.2.3.4"}]}]},
                {"floods": [{"domain": WEB1, "start": 0, "peak_qps": 1,
                             "sources": [dict(BOTS[0], count=0)]}]}):
        with pytest.raises(sim.ConfigError):
            sim.check_attack(bad, 0)


# -- Domain bandwidth: DescribeDomainBps

BPS = "DescribeDomainBps"


def bps_params(**overrides):
    end = int(time.time()) // 300 * 300
    base = {"Action": BPS, "InstanceIds.1": None, "Port": None, "StartTime": str(end - 3600),
            "EndTime": str(end), "Interval": "300", "Region": "cn", "Domain": WEB1}
    base.update(overrides)
    return make_params(**base)


def test_domain_bps_in_five_minute_buckets_a_flood_raises(cc_server):
    s, section = cc_server, attack_of(cc_server)
    end = int(time.time()) // 300 * 300
    r = call(s, bps_params())
    items = parse_list(r, BPS, "DomainBps", "repeated")[1]
    # Twelve buckets of 300 s, Index from 0, no Time; as domain_bps_for says.
    assert [i["Index"] for i in items] == [str(k) for k in range(12)]
    assert all(sorted(i) == ["InBps", "Index", "OutBps"] for i in items)
    want = sim.domain_bps_for([WEB1], end - 3600, end, 300, section, time.time())
    assert items == as_text(want)
    # The flood (since now-1800, 20000 QPS at its peak) raises InBps far
    # above the calm buckets between the two floods.
    flood, over = section["floods"][1], section["floods"][0]
    buckets = [(end - 3600 + 300 * k, int(i["InBps"])) for k, i in enumerate(items)]
    calm = [b for t, b in buckets if t >= over["end"] and t + 300 <= flood["start"]]
    during = [b for t, b in buckets if t >= flood["start"] + 120]
    assert calm and during and min(during) > 10 * max(calm)
    assert all(int(i["OutBps"]) > 0 for i in items)
    # Interval 3600: one bucket, its busiest 5 minutes' minute.
    r = call(s, bps_params(Interval="3600"))
    (hour,) = parse_list(r, BPS, "DomainBps", "repeated")[1]
    assert int(hour["InBps"]) == max(int(i["InBps"]) for i in items)


def test_domain_bps_answers_only_the_region_asked(cc_server):
    s, section = cc_server, attack_of(cc_server)
    end = int(time.time()) // 300 * 300
    # WEB2 is served in cn-hongkong: asked in cn, none of its traffic.
    r = call(s, bps_params(Domain=WEB2))
    items = parse_list(r, BPS, "DomainBps", "repeated")[1]
    assert len(items) == 12 and all(i["InBps"] == i["OutBps"] == "0" for i in items)
    r = call(s, bps_params(Domain=WEB2, Region="cn-hongkong"))
    assert parse_list(r, BPS, "DomainBps", "repeated")[1] == as_text(
        sim.domain_bps_for([WEB2], end - 3600, end, 300, section, time.time()))
    # Without Domain: the region's domains added up.
    r = call(s, bps_params(Domain=None))
    assert parse_list(r, BPS, "DomainBps", "repeated")[1] == as_text(
        sim.domain_bps_for([WEB1], end - 3600, end, 300, section, time.time()))


def test_domain_bps_is_strict(cc_server):
    now = minute()
    cases = [(bps_params(**{name: None}), "MissingParameter")
             for name in ("StartTime", "EndTime", "Interval", "Region")]
    cases += [
        (bps_params(Region="cn-hangzhou"), "InvalidParameter"),
        (bps_params(Region="CN"), "InvalidParameter"),
        (bps_params(Region=""), "InvalidParameter"),
        (bps_params(Interval="60"), "InvalidParameter"),
        (bps_params(Interval="600"), "InvalidParameter"),
        (bps_params(StartTime=str(now - 3 * 86400), EndTime=str(now)), "InvalidParameter"),
        (bps_params(StartTime=str(now - 31 * 86400), EndTime=str(now), Interval="3600"),
         "InvalidParameter"),
        (bps_params(StartTime=str(now - 3630)), "InvalidParameter"),
        (bps_params(EndTime=str(now + 120)), "InvalidParameter"),
        (bps_params(StartTime=str(now), EndTime=str(now)), "InvalidParameter"),
        (bps_params(ResourceGroupId="rg-default"), "InvalidParameter"),
        (bps_params(InstanceIds__1=INST1), "InvalidParameter"),
        (bps_params(PageSize="10"), "InvalidParameter"),
        (bps_params(Domain="nope.example.com"), "InvalidDomain.NotFound"),
    ]
    for params, code in cases:
        r = call(cc_server, params)
        assert r.status == 400 and r.code() == code, (params, r.body)
    assert "Region" in call(cc_server, bps_params(Region="cn-hangzhou")).body.decode()
    for interval, days in (("3600", 3), ("86400", 31)):
        r = call(cc_server, bps_params(StartTime=str(now - days * 86400), EndTime=str(now),
                                       Interval=interval))
        assert r.status == 200, r.body
    with pytest.raises(sim.ConfigError):
        sim.load_config(dict(CC_CONFIG, domain_regions={WEB1: "cn-hangzhou"}))


# ---------------------------------------------------------------------------
# Plans, quotas and origin health
# ---------------------------------------------------------------------------

SPECS, USAGE, HEALTH = "DescribeInstanceSpecs", "DescribeInstanceStatistics", \
    "DescribeHealthCheckStatus"
MITIGATIONS, RELEASES = "DescribeDefenseCountStatistics", "DescribeUnBlackholeCount"
PLAN_CONFIG = dict(BASE_CONFIG, rules={
    INST1: [{"protocol": "tcp", "frontend_port": 80, "backend_port": 8080,
             "real_servers": ["192.0.2.1", "192.0.2.2"]},
            {"protocol": "udp", "frontend_port": 53, "backend_port": 53}]},
    attack={"plans": {INST1: {"BaseBandwidth": 1, "DefenseCount": -1}},
            "usage": {INST2: {"DomainUsage": 4}},
            "account_quotas": {"DefenseCountTotalUsageOfCurrentMonth": 3, "RemainCount": 2}})


@pytest.fixture(scope="module")
def plan_server(tmp_path_factory):
    s = RunningSim(tmp_path_factory.mktemp("plans"), PLAN_CONFIG)
    yield s
    assert s.stop() == 0


def plan_params(action, **overrides):
    return make_params(**dict({"Action": action, "StartTime": None, "EndTime": None},
                              **overrides))


def items_of(resp, action, list_name):
    """The items of a repeated list, a nested list (RealServerStatusList,
    repeated too) as a list of dicts."""
    assert resp.status == 200, resp.body
    root = resp.xml()
    assert root.tag == action + "Response"
    out = []
    for i in root.findall(list_name):
        item = {}
        for e in i:
            if len(e) == 0:
                assert e.tag not in item
                item[e.tag] = e.text
            else:
                item.setdefault(e.tag, []).append({c.tag: c.text for c in e})
        out.append(item)
    return out


def test_instance_specs_per_instance(plan_server):
    r = call(plan_server, plan_params(SPECS, InstanceIds__2=INST2))
    rows = {i["InstanceId"]: i for i in items_of(r, SPECS, "InstanceSpecs")}
    assert rows[INST1]["BaseBandwidth"] == "1" and rows[INST2]["BaseBandwidth"] == "30"
    assert rows[INST1]["BandwidthMbps"] == "100" and rows[INST1]["QpsLimit"] == "3000"
    # DefenseCount only for RegionId ap-southeast-1, as the reference says.
    assert "DefenseCount" not in rows[INST1]
    r = call(plan_server, plan_params(SPECS, RegionId="ap-southeast-1",
                                      InstanceIds__1="ddoscoo-cn-nope"))
    assert_error(r, 400, "InvalidInstance.NotFound", "ddoscoo-cn-nope")


def test_instance_statistics_count_rules(plan_server):
    r = call(plan_server, plan_params(USAGE, InstanceIds__2=INST2))
    rows = {i["InstanceId"]: i for i in items_of(r, USAGE, "InstanceStatistics")}
    assert rows[INST1]["PortUsage"] == "2" and rows[INST2]["PortUsage"] == "0"
    assert rows[INST2]["DomainUsage"] == "4" and "DefenseCountUsage" not in rows[INST1]


@pytest.mark.parametrize("action,overrides,code,mentions", [
    (SPECS, {"InstanceIds__1": None}, "MissingParameter", "InstanceIds.1"),
    (USAGE, dict(("InstanceIds__%d" % n, INST1) for n in range(1, 102)), "InvalidParameter",
     "At most 100"),
    (SPECS, {"ResourceGroupId": "rg-default"}, "InvalidParameter", "ResourceGroupId"),
    (MITIGATIONS, {}, "InvalidParameter", "InstanceIds.1"),
    (RELEASES, {"InstanceIds__1": None, "StartTime": "60"}, "InvalidParameter", "StartTime"),
    (HEALTH, {"InstanceIds__1": None}, "MissingParameter", "NetworkRules"),
    (HEALTH, {"InstanceIds__1": None, "NetworkRules": "[{\"InstanceId\": 1}]"},
     "InvalidParameter", "NetworkRules"),
    (HEALTH, {"InstanceIds__1": None, "NetworkRules": "tcp/80"}, "InvalidParameter",
     "NetworkRules"),
])
def test_plan_rejections(plan_server, action, overrides, code, mentions):
    assert_error(call(plan_server, plan_params(action, **overrides)), 400, code, mentions)


def test_account_quotas_struct_and_flat(plan_server):
    r = call(plan_server, plan_params(MITIGATIONS, InstanceIds__1=None))
    assert r.status == 200, r.body
    st = r.xml().find("DefenseCountStatistics")
    assert st.findtext("MaxUsableDefenseCountCurrentMonth") == "20"
    assert st.findtext("DefenseCountTotalUsageOfCurrentMonth") == "3"
    r = call(plan_server, plan_params(RELEASES, InstanceIds__1=None,
                                      ResourceGroupId="rg-default"))
    assert r.status == 200, r.body
    assert r.xml().findtext("RemainCount") == "2" and r.xml().findtext("TotalCount") == "5"


def test_origin_goes_down_and_comes_back(start_sim):
    s = start_sim(PLAN_CONFIG)
    rules = json.dumps([{"InstanceId": INST1, "Protocol": "tcp", "FrontendPort": 80},
                        {"InstanceId": INST1, "Protocol": "udp", "FrontendPort": 53}])

    def health():
        r = call(s, plan_params(HEALTH, InstanceIds__1=None, NetworkRules=rules))
        return {(i["Protocol"], i["FrontendPort"]): i
                for i in items_of(r, HEALTH, "HealthCheckStatus")}
    rows = health()
    assert rows[("tcp", "80")]["Status"] == "normal"
    assert rows[("tcp", "80")]["RealServerStatusList"] == [
        {"Address": "192.0.2.1", "Status": "normal"},
        {"Address": "192.0.2.2", "Status": "normal"}]
    section = dict(PLAN_CONFIG["attack"], origin_down=[
        {"instance": INST1, "frontend_port": 80, "address": "192.0.2.2", "start": "now-60"}])
    assert send(s.base + "/_sim/attack", "POST", json.dumps(section).encode()).status == 200
    rows = health()
    assert rows[("tcp", "80")]["Status"] == "abnormal"
    assert {x["Address"]: x["Status"] for x in rows[("tcp", "80")]["RealServerStatusList"]} \
        == {"192.0.2.1": "normal", "192.0.2.2": "abnormal"}
    assert rows[("udp", "53")]["Status"] == "normal"
    section["origin_down"][0]["end"] = "now-1"
    assert send(s.base + "/_sim/attack", "POST", json.dumps(section).encode()).status == 200
    assert health()[("tcp", "80")]["Status"] == "normal"


def test_an_instance_expiring_expired_in_debt_and_renewed(start_sim):
    """The attack section's "expiry" sets what DescribeInstances answers of
    an instance's term: ExpireTime in ms from a time spec, Status,
    Enabled and DebtStatus; the others keep the defaults."""
    s = start_sim(PLAN_CONFIG)

    def terms():
        r = call(s, plan_params("DescribeInstances", InstanceIds__2=INST2, PageNumber="1",
                                PageSize="50"))
        return {i["InstanceId"]: i for i in items_of(r, "DescribeInstances", "Instances")}
    rows = terms()
    assert rows[INST1]["ExpireTime"] == str(sim.INSTANCE_EXPIRE_MS)
    assert (rows[INST1]["Status"], rows[INST1]["Enabled"], rows[INST1]["DebtStatus"]) == \
        ("1", "1", "0")
    t0 = time.time()
    for term, want in (({"expires": "now+86400"}, ("1", "1", "0")),          # soon
                       ({"expires": "now-60", "Status": 2, "Enabled": 0}, ("2", "0", "0")),
                       ({"expires": "now+86400", "DebtStatus": 1}, ("1", "1", "1")),
                       ({"expires": "now+31536000"}, ("1", "1", "0"))):  # renewed
        section = dict(PLAN_CONFIG["attack"], expiry={INST1: term})
        assert send(s.base + "/_sim/attack", "POST", json.dumps(section).encode()).status == 200
        rows = terms()
        got = rows[INST1]
        assert (got["Status"], got["Enabled"], got["DebtStatus"]) == want, term
        offset = int(term["expires"][3:])
        assert abs(int(got["ExpireTime"]) / 1000 - (t0 + offset)) < 5, term
        assert rows[INST2]["ExpireTime"] == str(sim.INSTANCE_EXPIRE_MS)
    for bad in ({INST1: {"Status": 3}}, {INST1: {"expires": "tomorrow"}},
                {INST1: {"DebtStatus": 2}}, {INST1: {"ExpireTime": 1}}, {INST1: 5}):
        with pytest.raises(sim.ConfigError):
            sim.check_attack({"expiry": bad}, 0)


def test_an_attack_scripted_across_the_base_protection():
    """The attack section scripts an attack whose peak crosses the base
    protection bandwidth the plan says: AttackBps of the flow rows against
    DescribeInstanceSpecs' BaseBandwidth (Gbit/s)."""
    now = int(time.time()) // 60 * 60
    section = sim.check_attack({
        "attacks": [{"instance": INST1, "start": now - 600, "end": now + 600, "ramp_seconds": 0,
                     "peak_bps": 3 * 10 ** 9, "peak_pps": 10 ** 6}],
        "plans": {INST1: {"BaseBandwidth": 2, "ElasticBandwidth": 10}}}, now)
    spec = sim.plan_answer({"action": SPECS, "region": "cn-hangzhou",
                            "instance_ids": [INST1]}, section, now)["rows"][0]
    before = sim.flow_for([INST1], now - 1260, now - 1200, 60, section)
    during = sim.flow_for([INST1], now - 300, now - 240, 60, section)
    base = spec["BaseBandwidth"] * 10 ** 9
    assert sum(r["AttackBps"] for r in before) < base < sum(r["AttackBps"] for r in during)
    assert sum(r["AttackBps"] for r in during) < spec["ElasticBandwidth"] * 10 ** 9


# -- Who is attacking in a volumetric event: DescribeDDosEventSrcIp

SRC_IP = "DescribeDDosEventSrcIp"
SRC_CONFIG = dict(BASE_CONFIG, instances=[INST1], attack={"attacks": [
    {"instance": INST1, "ip": "203.0.113.10", "start": "now-1200", "end": "now-300",
     "peak_bps": 10 ** 9, "peak_pps": 10 ** 5, "blackhole_from": "now-900",
     "blackhole_to": "now-600", "sources": BOTS},
    {"instance": INST1, "ip": "203.0.113.11", "start": "now-1200", "peak_bps": 1,
     "peak_pps": 1}]})


@pytest.fixture(scope="module")
def src_ip_server(tmp_path_factory):
    s = RunningSim(tmp_path_factory.mktemp("srcip"), SRC_CONFIG)
    yield s
    assert s.stop() == 0


def src_ip_params(**overrides):
    base = {"Action": SRC_IP, "InstanceIds.1": None, "Port": None, "EndTime": None,
            "EventType": "defense", "Ip": "203.0.113.10", "Range": "5"}
    base.update(overrides)
    return make_params(**base)


def test_sources_of_a_volumetric_event(src_ip_server):
    s, section = src_ip_server, attack_of(src_ip_server)
    a = section["attacks"][0]
    r = call(s, src_ip_params(StartTime=str(a["start"])))
    items = parse_list(r, SRC_IP, "Ips", "repeated")[1]
    # The scripted sources, most count first (not answered), as scripted.
    assert items == [{"SrcIp": "2001:db8::66", "AreaId": "440000", "Isp": "100026"},
                     {"SrcIp": "198.51.100.7", "AreaId": "90998690", "Isp": "100017"},
                     {"SrcIp": "bad<ip>&", "AreaId": "x\"y", "Isp": "1"}]
    assert items == sim.src_ip_for("defense", a["ip"], a["start"], 5, time.time(), section)
    # The blackhole's: the same attack's; Range cuts.
    r = call(s, src_ip_params(EventType="blackhole", StartTime=str(a["blackhole_from"]),
                              Range="1"))
    assert [i["SrcIp"] for i in parse_list(r, SRC_IP, "Ips", "repeated")[1]] == ["2001:db8::66"]
    # No such event (another start, type or IP; an attack without sources).
    for params in (src_ip_params(StartTime=str(a["start"] + 1)),
                   src_ip_params(EventType="blackhole", StartTime=str(a["start"])),
                   src_ip_params(Ip="203.0.113.11", StartTime=str(a["start"]))):
        assert parse_list(call(s, params), SRC_IP, "Ips", "repeated")[1] == []


def test_src_ip_is_strict(src_ip_server):
    start = str(attack_of(src_ip_server)["attacks"][0]["start"])
    cases = [
        (src_ip_params(StartTime=None), "MissingParameter"),
        (src_ip_params(StartTime=start, EventType=None), "MissingParameter"),
        (src_ip_params(StartTime=start, Ip=None), "MissingParameter"),
        (src_ip_params(StartTime=start, Range=None), "MissingParameter"),
        (src_ip_params(StartTime=start, EventType="cc"), "InvalidParameter"),
        (src_ip_params(StartTime=start, EventType="Defense"), "InvalidParameter"),
        (src_ip_params(StartTime=start, Ip="203.0.113"), "InvalidParameter"),
        (src_ip_params(StartTime="-1"), "InvalidParameter"),
        (src_ip_params(StartTime=str(int(time.time()) + 600)), "InvalidParameter"),
        (src_ip_params(StartTime=start, Range="0"), "InvalidParameter"),
        (src_ip_params(StartTime=start, Range="101"), "InvalidParameter"),
        (src_ip_params(StartTime=start, EndTime=str(minute())), "InvalidParameter"),
        (src_ip_params(StartTime=start, InstanceIds__1=INST1), "InvalidParameter"),
        (src_ip_params(StartTime=start, ResourceGroupId="rg-default"), "InvalidParameter"),
    ]
    for params, code in cases:
        r = call(src_ip_server, params)
        assert r.status == 400 and r.code() == code, (params, r.body)
    with pytest.raises(sim.ConfigError):
        sim.check_attack({"attacks": [{"instance": INST1, "start": 0, "peak_bps": 1,
                                       "peak_pps": 1, "sources": [{"ip": "1.2.3.4"}]}]}, 0)


# ---------------------------------------------------------------------------
# DescribeDDosAllEventList: the account's events, no instance named
# ---------------------------------------------------------------------------

ALL_EVENTS = sim.ALL_EVENTS_ACTION


def all_events_params(**overrides):
    base = dict(Action=ALL_EVENTS, StartTime=str(minute(-7200)), EndTime=str(minute()),
                PageNumber="1", PageSize="10", InstanceIds__1=None)
    base.update(overrides)
    return make_params(**base)


def test_all_events_cc_of_every_instance_paged(start_sim):
    section = dict(ATTACK_SECTION, cc_attacks=[
        {"instance": INST1, "ip": IP_A, "port": 8080, "start": "now-300",
         "peak_mbps": 1200, "peak_pps": 90000, "area": "alb-us-west-1-gf-2"},
        {"instance": INST2, "ip": IP_B1, "start": "now-3000", "end": "now-2400",
         "peak_mbps": 3, "peak_pps": 700}],
        floods=[{"domain": "www.example.com", "start": "now-900", "peak_qps": 5000}])
    s = start_sim(dict(STAT_CONFIG, attack=section))
    root, items = parse_list(call(s, all_events_params(EventType="cc")), ALL_EVENTS,
                             "AttackEvents", "repeated")
    assert root.findtext("Total") == "2"
    assert [(i["EventType"], i["Ip"], i["Port"], i["Mbps"], i["Pps"], i["EndTime"])
            for i in items] == [("cc", IP_A, "8080", "1200", "90000", "0"),
                                ("cc", IP_B1, "80", "3", "700",
                                 str(attack_of(s)["cc_attacks"][1]["end"]))]
    assert items[0]["Area"] == "alb-us-west-1-gf-2"
    # Without EventType: every kind; web-cc names the domain, without Port;
    # volumetric events in whole Mbit/s.
    root, items = parse_list(call(s, all_events_params(PageSize="50")), ALL_EVENTS,
                             "AttackEvents", "repeated")
    kinds = [(i["EventType"], i["Ip"]) for i in items]
    assert ("web-cc", "www.example.com") in kinds and ("defense", IP_A) in kinds
    web = [i for i in items if i["EventType"] == "web-cc"][0]
    assert "Port" not in web
    assert [i["Mbps"] for i in items if i["EventType"] == "defense" and i["Port"] == "80"
            and i["Ip"] == IP_A] == ["40000"]
    # Several types, comma-separated; pages of one.
    got = []
    for page in (1, 2, 3, 4):
        root, its = parse_list(call(s, all_events_params(EventType="cc,blackhole",
                                                         PageNumber=str(page), PageSize="1")),
                               ALL_EVENTS, "AttackEvents", "repeated")
        assert root.findtext("Total") == "4"
        got += its
    assert sorted(i["EventType"] for i in got) == ["blackhole", "blackhole", "cc", "cc"]


@pytest.mark.parametrize("overrides,code,mentions", [
    ({"StartTime": None}, "MissingParameter", "StartTime"),
    ({"EndTime": None}, "MissingParameter", "EndTime"),
    ({"PageNumber": None}, "MissingParameter", "PageNumber"),
    ({"PageSize": None}, "MissingParameter", "PageSize"),
    ({"PageSize": "51"}, "InvalidParameter", "PageSize"),
    ({"PageNumber": "0"}, "InvalidParameter", "PageNumber"),
    ({"EventType": "traffic"}, "InvalidParameter", "EventType"),
    ({"EventType": "cc,cc"}, "InvalidParameter", "EventType"),
    ({"EventType": "cc,"}, "InvalidParameter", "EventType"),
    ({"EndTime": str(minute(3600))}, "InvalidParameter", "EndTime"),
    # A minute ahead of the time the test runs, not of its collection.
    ({"StartTime": lambda: str(minute(60))}, "InvalidParameter", "StartTime"),
    ({"StartTime": str(minute(-7200) * 1000)}, "InvalidParameter", "StartTime"),
    ({"InstanceIds__1": INST1}, "InvalidParameter", "InstanceIds.1"),
    ({"ResourceGroupId": "rg-default"}, "InvalidParameter", "ResourceGroupId"),
])
def test_all_events_rejections(stat_servers, overrides, code, mentions):
    overrides = {k: v() if callable(v) else v for k, v in overrides.items()}
    assert_error(call(stat_servers["repeated"], all_events_params(**overrides)), 400, code,
                 mentions)


def test_cc_attacks_section_checked():
    with pytest.raises(sim.ConfigError):
        sim.check_attack({"cc_attacks": [{"instance": INST1, "start": 0}]}, 0)
    with pytest.raises(sim.ConfigError):
        sim.check_attack({"cc_attacks": [{"instance": INST1, "start": 10, "end": 5,
                                          "peak_mbps": 1, "peak_pps": 1}]}, 0)
    with pytest.raises(sim.ConfigError):
        sim.check_attack({"cc_attacks": [{"instance": INST1, "start": 0, "peak_mbps": 1,
                                          "peak_pps": 1, "bps": 3}]}, 0)
