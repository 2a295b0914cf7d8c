# SPDX-License-Identifier: MIT
"""Every collectd configuration of README.md (its ```apache blocks), loaded
by the real collectd exactly as printed: no Endpoint, no MetadataURL
added. As in test_default_credentials.py, the real addresses are made
reachable in network and mount namespaces of the test's own (unshare -m
-n): both regions' default endpoints (ddoscoo.cn-hangzhou.aliyuncs.com,
ddoscoo.ap-southeast-1.aliyuncs.com) on 127.0.0.1 in /etc/hosts, with
TLS verified against a CA bundle of the test's certificate only, the
metadata service at 100.100.100.200 on loopback, and private
/etc/collectd and /var/lib/collectd for the credentials file and the
StateFile the README names. One simulator serves all; each example runs
in a collectd of its own, all at once, and each of its blocks must poll
its instances with the keys the README says it takes. Nothing but
loopback is contacted."""

import os
import re
import subprocess

import pytest

from conftest import COLLECTD, REPO, STOCK_PLUGIN_DIR, TYPES_DB, Collectd, Simulator, \
    plugin_dir, wait_for

README = os.path.join(REPO, "README.md")
ROLE_ADDRESS = "100.100.100.200"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"  # libcurl's, on Debian
ENDPOINT = "ddoscoo.%s.aliyuncs.com"
HOSTNAME = "web01"
# The keys the test gives where the README leaves them to the machine: the
# environment. A credentials file is the README's own (an ```ini block
# whose first line names the file).
ENV_KEY = ("LTAIreadmeEnvironment", "environment-secret")
# What discovery finds in each region: two instances of the README and one
# of Anti-DDoS Premium, each forwarding port 80; a web domain of the latter.
DISCOVERED = {"cn-hangzhou": ["ddoscoo-cn-mp91j1ao0001", "ddoscoo-cn-mp91j1ao0002"],
              "ap-southeast-1": ["ddoscoo-intl-readme0001"]}
DOMAIN = "www.example.com"


def readme():
    with open(README, encoding="utf-8") as f:
        return f.read()


def examples():
    """The README's collectd configurations: its ```apache blocks."""
    return re.findall(r"^```apache\n(.*?)^```$", readme(), re.M | re.S)


def credentials_file(path):
    """The README's ```ini block that begins with "# <path>": the file's
    text, and its keys {access_key_id: access_key_secret}."""
    blocks = re.findall(r"^```ini\n# %s\n(.*?)^```$" % re.escape(path), readme(), re.M | re.S)
    assert len(blocks) == 1, "README: no ```ini block of %s" % path
    ids = re.findall(r"^access_key_id = (.*)$", blocks[0], re.M)
    secrets = re.findall(r"^access_key_secret = (.*)$", blocks[0], re.M)
    assert ids and len(ids) == len(secrets), blocks[0]
    return blocks[0], dict(zip(ids, secrets))


def options(text):
    """[(key, [values])] of the lines of a block, comments left out."""
    out = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("<"):
            key, _, rest = line.partition(" ")
            out.append((key, re.findall(r'"([^"]*)"|(\S+)', rest)))
    return [(k, [a or b for a, b in v]) for k, v in out]


def accounts(example):
    """{name: {key: [values, ...]}} of an example's <Account> blocks."""
    blocks = {}
    for name, body in re.findall(r'^\s*<Account "([^"]+)">\n(.*?)^\s*</Account>', example,
                                 re.M | re.S):
        opts = {}
        for key, values in options(body):
            opts.setdefault(key, []).extend(values)
        blocks[name] = opts
    return blocks


def plugin_options(example):
    body = re.search(r"<Plugin ddoscoo>\n(.*)</Plugin>", example, re.S).group(1)
    return dict(options(re.sub(r"<Account .*?</Account>", "", body, flags=re.S)))


def expected_source(opts):
    """The key a block signs with, and how its start line names the source."""
    if "AccessKeyId" in opts:
        return opts["AccessKeyId"][0], "configuration"
    if "CredentialsFile" in opts:
        text, _ = credentials_file(opts["CredentialsFile"][0])
        profile = opts.get("Profile", ["default"])[0]
        assert "[%s]\n" % profile in text, "README: no profile %s in %s" % (
            profile, opts["CredentialsFile"][0])
        section = text.split("[%s]\n" % profile, 1)[1].split("\n[", 1)[0]
        key = re.search(r"^access_key_id = (.*)$", section, re.M).group(1)
        return key, "credentials file %s, profile %s" % (
            opts["CredentialsFile"][0], opts.get("Profile", ["default"])[0])
    if "RamRole" in opts:
        return "STS.", "ECS RAM role %s" % opts["RamRole"][0]
    return ENV_KEY[0], "environment"


def expected_series(opts):
    """[(host, plugin_instance, type-type_instance)] a block must store."""
    region = opts.get("RegionId", ["cn-hangzhou"])[0]
    instances = opts.get("InstanceId") or DISCOVERED[region]
    ports = [("80" if p == "auto" else p) for p in opts.get("Port", [])]
    stats = opts.get("Statistics", ["connections", "traffic", "blackhole", "events"])
    host = opts.get("Host", [HOSTNAME])[0]
    series = []
    for i in instances:
        if "connections" in stats:
            for pi in ["%s_%s" % (i, p) for p in ports] or [i]:
                series.append((host, pi, "current_connections-concurrent"))
        if "traffic" in stats:
            series.append((host, i, "gauge-attack_bps"))
        if "blackhole" in stats:
            series.append((host, i, "count-blackholed_ips"))
        if "events" in stats:
            series.append((host, i, "count-mitigation_events"))
    if "qps" in stats:
        series.append((host, DOMAIN, "count-requests"))
    if "status_codes" in stats:
        series.append((host, DOMAIN, "count-origin_5xx"))
    return series


class ReadmeCollectd(Collectd):
    """collectd -f with logfile and csv, and a README example as it is
    (its LoadPlugin ddoscoo finds the plugin in the build tree). Interval
    10, collectd's default, as the examples set none: reads of a second
    would cut requests short on a loaded machine."""

    def __init__(self, workdir, example, env, prefix):
        self.dir = workdir
        self.log_path = os.path.join(workdir, "collectd.log")
        self.csv_dir = os.path.join(workdir, "csv")
        self.rrd_dir = os.path.join(workdir, "rrd")
        self.hostname = HOSTNAME
        conf = os.path.join(workdir, "collectd.conf")
        with open(conf, "w") as f:
            f.write('Hostname "%s"\nFQDNLookup false\nBaseDir "%s"\nPIDFile "%s/collectd.pid"\n'
                    'Interval 10\nTypesDB "%s"\nPluginDir "%s"\n'
                    'LoadPlugin logfile\n<Plugin logfile>\n  LogLevel info\n  File "%s"\n'
                    '  Timestamp true\n  PrintSeverity true\n</Plugin>\n'
                    'LoadPlugin csv\n<Plugin csv>\n  DataDir "%s"\n</Plugin>\n'
                    'PluginDir "%s"\n' % (HOSTNAME, workdir, workdir, TYPES_DB,
                                          STOCK_PLUGIN_DIR, self.log_path, self.csv_dir,
                                          plugin_dir()))
            f.write(example)
        full_env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C", "HOME": workdir}
        full_env.update(env)
        self.stdout = open(os.path.join(workdir, "collectd.stdout"), "w")
        self.proc = subprocess.Popen(list(prefix) + [COLLECTD, "-f", "-C", conf],
                                     env=full_env, stdout=self.stdout,
                                     stderr=subprocess.STDOUT)
        wait_for(lambda: "entering read-loop" in self.log() or self.proc.poll() is not None,
                 30, "collectd to start")
        assert self.proc.poll() is None, "collectd exited at start:\n" + self.log()


@pytest.fixture(scope="module")
def namespaces(tmp_path_factory):
    """Private network and mount namespaces: lo up with the metadata
    address, both regions' endpoints on 127.0.0.1, a CA bundle of the
    test's certificate only, /etc/collectd and /var/lib/collectd of the
    test's own. Yields the command prefix that enters them, the
    certificate and key, and the private /etc/collectd."""
    if os.geteuid() != 0:
        pytest.fail("this test needs root, for unshare -m -n")
    d = str(tmp_path_factory.mktemp("namespaces"))
    hosts = [ENDPOINT % r for r in sorted(DISCOVERED)]
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=" + hosts[0], "-addext",
                    "subjectAltName=" + ",".join("DNS:" + h for h in hosts)],
                   check=True, capture_output=True)
    with open(os.path.join(d, "hosts"), "w") as f:
        f.write("127.0.0.1 localhost %s\n" % " ".join(hosts))
    etc, lib = os.path.join(d, "etc-collectd"), os.path.join(d, "var-lib-collectd")
    os.mkdir(etc)
    os.mkdir(lib)
    script = ("mount --bind {d}/hosts /etc/hosts && mount --bind {cert} {bundle} && "
              "mount --bind {etc} /etc/collectd && mount --bind {lib} /var/lib/collectd && "
              "ip link set lo up && ip addr add {addr}/32 dev lo && "
              "echo ready && exec sleep 3600").format(d=d, cert=cert, bundle=CA_BUNDLE,
                                                       etc=etc, lib=lib, addr=ROLE_ADDRESS)
    ns = subprocess.Popen(["unshare", "-m", "-n", "sh", "-c", script],
                          stdout=subprocess.PIPE, text=True)
    assert ns.stdout.readline().strip() == "ready", "cannot set up the namespaces"
    try:
        yield (["nsenter", "--mount=/proc/%d/ns/mnt" % ns.pid,
                "--net=/proc/%d/ns/net" % ns.pid], cert, key, etc, lib)
    finally:
        ns.kill()
        ns.wait()


@pytest.fixture(scope="module")
def run(namespaces, tmp_path_factory):
    enter, cert, key, etc, lib = namespaces
    d = str(tmp_path_factory.mktemp("readme"))
    configs = examples()
    keys = {ENV_KEY[0]: {"secret": ENV_KEY[1]}}
    instances = dict((i, r) for r, ids in DISCOVERED.items() for i in ids)
    for example in configs:
        for opts in accounts(example).values():
            if "AccessKeyId" in opts:
                keys[opts["AccessKeyId"][0]] = {"secret": opts["AccessKeySecret"][0]}
            for i in opts.get("InstanceId", []):
                instances[i] = opts.get("RegionId", ["cn-hangzhou"])[0]
            if "CredentialsFile" in opts:
                path = opts["CredentialsFile"][0]
                assert path.startswith("/etc/collectd/"), path
                text, file_keys = credentials_file(path)
                with open(os.path.join(etc, path[len("/etc/collectd/"):]), "w") as f:
                    f.write(text)
                os.chmod(f.name, 0o600)
                for kid, secret in file_keys.items():
                    assert keys.get(kid, {"secret": secret})["secret"] == secret, kid
                    keys[kid] = {"secret": secret}
    sim = Simulator(d, {"keys": keys, "instances": sorted(instances),
                        "instance_regions": instances,
                        "rules": {i: [{"protocol": "tcp", "frontend_port": 80,
                                       "backend_port": 80}] for i in instances},
                        "domains": {DOMAIN: DISCOVERED["ap-southeast-1"]},
                        "metadata": {"role": "ddoscoo-reader", "require_token": True}},
                    tls=(cert, key), prefix=enter,
                    args=["--port", "443", "--metadata-bind", ROLE_ADDRESS,
                          "--metadata-port", "80"])
    env = {"ALIBABA_CLOUD_ACCESS_KEY_ID": ENV_KEY[0],
           "ALIBABA_CLOUD_ACCESS_KEY_SECRET": ENV_KEY[1]}
    daemons = []
    try:
        for n, example in enumerate(configs):
            wd = os.path.join(d, "example%d" % n)
            os.mkdir(wd)
            daemons.append(ReadmeCollectd(wd, example, env, enter))
        for cd, example in zip(daemons, configs):
            want = [s for opts in accounts(example).values() for s in expected_series(opts)]
            wait_for(lambda: all(cd.csv_points(pi, m, host=h) for h, pi, m in want), 60,
                     "a window of every series of:\n" + example, step=1)
    finally:
        for cd in daemons:
            cd.stop()
        sim.stop()
    return {"examples": configs, "daemons": daemons, "requests": sim.requests(), "lib": lib}


def test_the_readme_has_the_common_cases_as_collectd_configurations():
    text, configs = readme(), examples()
    assert len(configs) >= 3, configs
    # Every ddoscoo configuration of the README is one of them: none escapes
    # this test by another fence or an indented block.
    assert text.count("<Plugin ddoscoo>") == sum(c.count("<Plugin ddoscoo>") for c in configs)
    every = [opts for c in configs for opts in accounts(c).values()]
    sources = {expected_source(opts)[1].split(" ")[0] for opts in every}
    assert sources == {"configuration", "environment", "credentials", "ECS"}, sources
    regions = {opts.get("RegionId", ["cn-hangzhou"])[0] for opts in every}
    assert regions == {"cn-hangzhou", "ap-southeast-1"}, regions
    assert [c for c in configs if len(accounts(c)) > 1]


def test_every_example_polls_every_series_it_names(run):
    for cd, example in zip(run["daemons"], run["examples"]):
        for name, opts in accounts(example).items():
            for host, pi, metric in expected_series(opts):
                assert cd.csv_points(pi, metric, host=host), (name, host, pi, metric)


def test_every_block_starts_with_the_keys_the_readme_says(run):
    for cd, example in zip(run["daemons"], run["examples"]):
        log = cd.log()
        for name, opts in accounts(example).items():
            _, source = expected_source(opts)
            region = opts.get("RegionId", ["cn-hangzhou"])[0]
            assert re.search(r'Account "%s": \d+ series from https://%s/, credentials from the '
                             r'%s, signature 1\.0\.' % (name, re.escape(ENDPOINT % region),
                                                        re.escape(source)), log), (name, log)
        # Nothing the plugin (or collectd) found wrong.
        bad = [l for l in log.splitlines() if "[error]" in l or "[warning]" in l]
        assert not bad, bad


def test_the_requests_are_signed_with_those_keys(run):
    answered = [r for r in run["requests"] if r.get("service") == "api" and r["status"] == 200]
    for example in run["examples"]:
        for name, opts in accounts(example).items():
            key, _ = expected_source(opts)
            region = opts.get("RegionId", ["cn-hangzhou"])[0]
            used = [r for r in answered if r["params"].get("AccessKeyId", "").startswith(key)
                    and r["params"].get("RegionId") == region]
            assert used, (name, key, region)
    # The machine's keys (the environment) only where the README says so.
    env_regions = {opts.get("RegionId", ["cn-hangzhou"])[0] for c in run["examples"]
                   for opts in accounts(c).values() if expected_source(opts)[0] == ENV_KEY[0]}
    assert env_regions and {r["params"].get("RegionId") for r in answered
                            if r["params"].get("AccessKeyId") == ENV_KEY[0]} == env_regions


def test_the_state_file_the_readme_names_is_written(run):
    files = [plugin_options(c).get("StateFile") for c in run["examples"]]
    files = [f[0] for f in files if f]
    assert files == ["/var/lib/collectd/ddoscoo.state"], files
    with open(os.path.join(run["lib"], "ddoscoo.state")) as f:
        assert f.readline() == "# collectd-ddoscoo state 1\n"
