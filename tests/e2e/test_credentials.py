# SPDX-License-Identifier: MIT
"""Credential sources with the real collectd: a credentials file named in
the block (each profile type), the default file found through the
environment, and the mistakes that keep a block from starting. Every
request is checked by the simulator against the right key and token."""

import os

import pytest

from conftest import METRICS, Collectd, Simulator, expected_values, wait_for

KEYS = {
    "LTAIfile": {"secret": "SECRET-file-1a"},
    "STS.file": {"secret": "SECRET-sts-2b", "token": "TOKEN-file-3c"},
    "LTAIother": {"secret": "SECRET-other-4d"},
}
INI = """# keys for collectd
[default]
type = access_key
access_key_id = LTAIfile
access_key_secret = SECRET-file-1a

[tmp]
type = sts
access_key_id = STS.file
access_key_secret = SECRET-sts-2b
security_token = TOKEN-file-3c
"""
OTHER_INI = """[other]
type = access_key
access_key_id = LTAIother
access_key_secret = SECRET-other-4d
"""
INSTANCES = ["ddoscoo-cn-cred%d" % i for i in range(4)]
SECRETS = ["SECRET-file-1a", "SECRET-sts-2b", "TOKEN-file-3c", "SECRET-other-4d",
           "X-Injected"]


def write(path, text, mode):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("credentials"))
    sim = Simulator(d, {"keys": KEYS, "instances": INSTANCES})
    private = write(os.path.join(d, "credentials"), INI, 0o600)
    shared = write(os.path.join(d, "shared-credentials"), INI, 0o644)
    default = write(os.path.join(d, "default-credentials"), OTHER_INI, 0o600)
    bad = write(os.path.join(d, "bad-credentials"), "[default]\ntype = access_key\njunk\n", 0o600)
    # A token with a carriage return would split a request's headers.
    control = write(os.path.join(d, "control-credentials"),
                    "[default]\ntype = sts\naccess_key_id = STS.file\n"
                    "access_key_secret = SECRET-sts-2b\n"
                    "security_token = TOKEN-file-3c\rX-Injected: 1\n", 0o600)
    # A FIFO: open() would wait for a writer, and collectd never start.
    fifo = os.path.join(d, "fifo-credentials")
    os.mkfifo(fifo, 0o600)
    # Saved by an editor that writes a UTF-8 byte order mark.
    with open(os.path.join(d, "bom-credentials"), "w", encoding="utf-8-sig") as f:
        f.write(OTHER_INI)
    os.chmod(os.path.join(d, "bom-credentials"), 0o600)

    def block(name, *lines):
        return '<Account "%s">\n  %s\n</Account>' % (name, "\n  ".join(
            ['Endpoint "%s"' % sim.url, 'MetadataURL "http://127.0.0.1:9"', "Interval 1"]
            + list(lines)))

    blocks = [
        block("file_default", 'CredentialsFile "%s"' % private, 'InstanceId "%s"' % INSTANCES[0]),
        block("file_sts", 'CredentialsFile "%s"' % shared, 'Profile "tmp"',
              'InstanceId "%s"' % INSTANCES[1]),
        block("machine_file", 'InstanceId "%s"' % INSTANCES[2]),
        block("two_sources", 'AccessKeyId "LTAIfile"', 'AccessKeySecret "SECRET-file-1a"',
              'CredentialsFile "%s"' % private, 'InstanceId "%s"' % INSTANCES[0]),
        block("profile_alone", 'Profile "tmp"', 'InstanceId "%s"' % INSTANCES[0]),
        block("missing_file", 'CredentialsFile "%s/nonexistent"' % d,
              'InstanceId "%s"' % INSTANCES[0]),
        block("bad_ini", 'CredentialsFile "%s"' % bad, 'InstanceId "%s"' % INSTANCES[0]),
        block("no_profile", 'CredentialsFile "%s"' % private, 'Profile "nobody"',
              'InstanceId "%s"' % INSTANCES[0]),
        block("control_chars", 'CredentialsFile "%s"' % control, 'Profile "default"',
              'InstanceId "%s"' % INSTANCES[0], "SignatureVersion 3"),
        block("fifo", 'CredentialsFile "%s"' % fifo, 'InstanceId "%s"' % INSTANCES[0]),
        block("bom", 'CredentialsFile "%s/bom-credentials"' % d, 'Profile "other"',
              'InstanceId "%s"' % INSTANCES[3]),
    ]
    env = {"ALIBABA_CLOUD_CREDENTIALS_FILE": default, "ALIBABA_CLOUD_PROFILE": "other"}
    cd = Collectd(d, "\n".join(blocks), interval=1, env=env)
    try:
        wait_for(lambda: all(cd.csv_points(i, METRICS[0][0]) for i in INSTANCES), 30,
                 "a value from every good block")
    finally:
        status = cd.stop()
        sim.stop()
    return {"cd": cd, "status": status, "requests": sim.requests(), "log": cd.log(),
            "files": {"private": private, "shared": shared, "default": default, "bad": bad}}


@pytest.mark.parametrize("instance,key_id,token", [
    (INSTANCES[0], "LTAIfile", None),
    (INSTANCES[1], "STS.file", "***"),
    (INSTANCES[2], "LTAIother", None),
    (INSTANCES[3], "LTAIother", None),  # a file with a byte order mark
])
def test_each_source_signs_with_its_key(run, instance, key_id, token):
    reqs = [r for r in run["requests"] if r["params"].get("InstanceIds.1") == instance]
    assert reqs and all(r["status"] == 200 for r in reqs), reqs
    assert {r["params"]["AccessKeyId"] for r in reqs} == {key_id}
    assert {r["params"].get("SecurityToken") for r in reqs} == {token}
    points = run["cd"].csv_points(instance, "current_connections-concurrent")
    for t, v in points.items():
        assert v == expected_values([instance], None, t)["Conns"]


def test_the_log_names_each_source_once(run):
    f = run["files"]
    lines = run["cd"].log_lines("credentials from the")
    assert len(lines) == 4
    assert any('"file_default"' in l and "credentials file %s, profile default" % f["private"] in l
               for l in lines)
    assert any('"file_sts"' in l and "credentials file %s, profile tmp" % f["shared"] in l
               for l in lines)
    assert any('"machine_file"' in l and "credentials file %s, profile other" % f["default"] in l
               for l in lines)


def test_a_file_others_can_read_is_warned_about(run):
    lines = run["cd"].log_lines('Account "file_sts"', "can be read by group or others")
    assert len(lines) == 1 and "mode 644" in lines[0] and "chmod 600" in lines[0]
    assert not run["cd"].log_lines('Account "file_default"', "can be read by group")


@pytest.mark.parametrize("name,reason", [
    ("two_sources", "name one source of credentials"),
    ("profile_alone", "Profile needs CredentialsFile"),
    ("missing_file", "cannot open"),
    ("bad_ini", "line 3 is not a section, a key = value or a comment"),
    ("no_profile", "profile [nobody] not found"),
    ("control_chars", "line 5: security_token holds a control character"),
    ("fifo", "fifo-credentials is not a regular file"),
])
def test_bad_sources_stop_only_their_block(run, name, reason):
    lines = run["cd"].log_lines('Account "%s"' % name)
    assert len(lines) == 2, lines
    assert reason in lines[0]
    assert "has configuration errors (above) and is not polled" in lines[1]


def test_collectd_ran_and_no_secret_was_logged(run):
    assert run["status"] == 0
    for secret in SECRETS:
        assert secret not in run["log"]
