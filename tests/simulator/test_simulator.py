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
    def __init__(self, workdir, config, extra_args=()):
        workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = workdir / "scenario.json"
        self.config_path.write_text(json.dumps(config))
        self.log_path = workdir / "requests.jsonl"
        self.port_file = workdir / "port"
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

    def start(config=BASE_CONFIG, extra_args=()):
        s = RunningSim(tmp_path / ("sim%d" % len(started)), config, extra_args)
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


def test_values_for_deterministic_and_in_range():
    a = sim.values_for([INST1], None, 1700000000 - 20, 1700000040)
    assert a == sim.values_for([INST1], None, "1699999980", "1700000040")
    assert a != sim.values_for([INST1], "80", 1699999980, 1700000040)
    for i in range(200):
        v = sim.values_for([INST1, "x%d" % i], str(i + 1), i * 60, i * 60 + 60)
        assert list(v) == ["Conns", "ActConns", "InActConns", "Cps"]
        assert 1000 <= v["Conns"] <= 99999
        assert 0 <= v["ActConns"] <= v["Conns"]
        assert 0 <= v["InActConns"] <= v["Conns"] - v["ActConns"]
        assert 0 <= v["Cps"] <= 5000


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


@pytest.mark.parametrize("overrides,mentions", [
    ({"EndTime": str(int(time.time()) // 60 * 60 + 600)}, "EndTime"),       # future
    ({"StartTime": str(int(time.time()) // 60 * 60 - 86460)}, "EndTime"),   # > 1 day
    ({"StartTime": str(int(time.time()) // 60 * 60)}, "StartTime"),         # start == end
    ({"StartTime": "-60"}, "StartTime"),
    ({"EndTime": "01700000000"}, "EndTime"),
])
def test_bad_time_range(server, overrides, mentions):
    assert_error(call(server, make_params(**overrides)), 400, "InvalidParameter", mentions)


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
    ({"Action": "DescribeInstanceIds"}, 404, "InvalidAction.NotFound"),
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
    modes = ["garbage", "empty", "html", "json", "truncated", "reset", "oversize", "entities",
             "xxe", "xxe_net", "wrongroot", "missing", "nonnumeric", "negative", "huge",
             "duplicate", "forbidden", "auth", "clock", "http500"]
    cfg = dict(BASE_CONFIG, faults={"f-" + m: {"mode": m} for m in modes})
    cfg["faults"]["f-hang"] = {"mode": "hang", "seconds": 0.3}
    s = start_sim(cfg)
    res = {m: _fault_get(s, m) for m in modes + ["hang"]}

    assert res["garbage"][0] == 200 and res["garbage"][2] == b"this is not xml"
    assert res["empty"][0] == 200 and res["empty"][2] == b""
    assert res["html"][0] == 502 and b"nginx" in res["html"][2]
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
