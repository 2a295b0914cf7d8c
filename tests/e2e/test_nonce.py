# SPDX-License-Identifier: MIT
"""A signed request reaches the API once: when a kept-alive connection dies
as a request arrives on it (the simulator verified the request, used up its
nonce, and hung up without a byte of answer), libcurl would send the same
request again on a new connection; the plugin signs it anew instead. And a
request the API refuses as carrying a used nonce (SignatureNonceUsed) is
asked again with a new signature, in the same read, its window stored."""

import pytest

from conftest import CONNECTIONS, Collectd, Simulator, block, expected_values, wait_for

# In each block the first series' request opens the connection; the
# second's arrives on it kept alive and is hung up on; the third's nonce is
# refused once.
BLOCKS = {
    "v1": ("LTAInonce1", ["ddoscoo-cn-nonceok1", "ddoscoo-cn-hangup1", "ddoscoo-cn-used1"], "1"),
    "v3": ("LTAInonce3", ["ddoscoo-cn-nonceok3", "ddoscoo-cn-hangup3", "ddoscoo-cn-used3"], "3"),
}
HANGUP = [ids[1] for _, ids, _ in BLOCKS.values()]
USED = [ids[2] for _, ids, _ in BLOCKS.values()]
ALL = [i for _, ids, _ in BLOCKS.values() for i in ids]
METRIC = "current_connections-active"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("nonce"))
    faults = {i: {"mode": "hangup", "count": 1} for i in HANGUP}
    faults.update({i: {"mode": "nonce_used", "count": 1} for i in USED})
    sim = Simulator(d, {"keys": {key: {"secret": "SECRET-" + key} for key, _, _ in BLOCKS.values()},
                        "instances": ALL, "faults": faults})
    blocks = [block(name, 'AccessKeyId "%s"' % key, 'AccessKeySecret "SECRET-%s"' % key,
                    'Endpoint "%s"' % sim.url, 'SignatureVersion "%s"' % version, CONNECTIONS,
                    "Interval 60", "MaxConcurrentRequests 1", "MaxRequestsPerSecond 0",
                    *['InstanceId "%s"' % i for i in ids])
              for name, (key, ids, version) in BLOCKS.items()]
    cd = Collectd(d, "\n".join(blocks))
    try:
        # Interval 60: one read, the first; what it does not store now
        # would wait a minute (the tests below say what is missing).
        try:
            wait_for(lambda: all(cd.csv_points(i, METRIC) for i in ALL), 20,
                     "the first window of every series")
        except AssertionError:
            pass
    finally:
        status = cd.stop()
        sim.stop()
    return {"cd": cd, "status": status, "requests": sim.requests()}


def nonce(r):
    if r.get("signature_version") == "3":
        return r["headers"]["x-acs-signature-nonce"]
    return r["params"]["SignatureNonce"]


def api_requests(run, iid):
    return [r for r in run["requests"]
            if r.get("action") == "DescribePortConnsCount"
            and iid in r["params"].values()]


def test_no_nonce_reaches_the_api_twice(run):
    nonces = [nonce(r) for r in run["requests"] if r.get("action")]
    assert len(nonces) == len(ALL) + len(HANGUP) + len(USED)  # the faulty twice
    assert len(set(nonces)) == len(nonces)
    assert not [r for r in run["requests"] if r.get("code") == "SignatureNonceUsed"
                and r.get("fault") is None]


@pytest.mark.parametrize("iid", HANGUP)
def test_a_request_hung_up_on_is_signed_anew_and_stored(run, iid):
    first, second = api_requests(run, iid)
    assert first["fault"] == "hangup" and first["status"] is None
    assert second["status"] == 200 and nonce(second) != nonce(first)


@pytest.mark.parametrize("iid", USED)
def test_a_refused_nonce_is_asked_again_in_the_same_read(run, iid):
    first, second = api_requests(run, iid)
    assert first["code"] == "SignatureNonceUsed"
    assert second["status"] == 200 and nonce(second) != nonce(first)
    # Asked again at once, not after a backoff or in a later read.
    assert second["time"] - first["time"] < 2
    assert run["cd"].log_lines(iid, "SignatureNonceUsed",
                               "asked again with a new signature")


def test_every_window_is_stored_and_nothing_failed(run):
    assert run["status"] == 0
    cd = run["cd"]
    for iid in ALL:
        points = cd.csv_points(iid, METRIC)
        assert len(points) == 1, (iid, points)
        for t, v in points.items():
            assert v == expected_values([iid], None, t)["ActConns"]
    assert not cd.log_lines("request to", "failed")
    assert not cd.log_lines("Empty reply")
