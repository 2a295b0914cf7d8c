# SPDX-License-Identifier: MIT
"""Harness for the end-to-end tests: the real collectd daemon (Debian's
collectd-core) loads the plugin from the build tree, stock write plugins
store what it dispatches, and the API simulator stands in for Alibaba
Cloud on loopback."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "simulator"))

import ddoscoo_sim  # noqa: E402  (the simulator, for values_for)

SIMULATOR = os.path.join(REPO, "tests", "simulator", "ddoscoo_sim.py")
COLLECTD = "/usr/sbin/collectd"
STOCK_PLUGIN_DIR = "/usr/lib/collectd"
TYPES_DB = "/usr/share/collectd/types.db"


# What the build, autotools, make dist(check) and the tests make in the
# tree: never the project's own files (.gitignore says the same; a release
# tarball has neither .gitignore nor .git, and no test may need git).
GENERATED_DIRS = {".git", "autom4te.cache", "build-aux", "m4", ".libs", ".deps",
                  "__pycache__", ".pytest_cache", "demo-out"}
GENERATED_FILES = {".git", "Makefile", "Makefile.in", "aclocal.m4", "config.log",
                   "config.status", "configure", "configure~", "libtool", ".dirstamp"}
GENERATED_SUFFIXES = (".o", ".lo", ".la", ".log", ".trs", ".tar.gz")
GENERATED_PATHS = {"doc/collectd-ddoscoo.5"}  # the man page, from its POD


def project_files():
    """The project's files in the tree, relative to it and sorted, from a
    walk of the tree: no build products (by name, and no executables
    built, ELF files), no directory make distcheck left behind."""
    files = []
    for root, dirs, names in os.walk(REPO):
        rel = os.path.relpath(root, REPO)
        dirs[:] = [d for d in dirs if d not in GENERATED_DIRS
                   and not d.startswith("collectd-ddoscoo-")
                   and not os.path.islink(os.path.join(root, d))]
        for name in names:
            path = os.path.normpath(os.path.join(rel, name))
            full = os.path.join(root, name)
            if name in GENERATED_FILES or name.endswith(GENERATED_SUFFIXES) \
                    or path in GENERATED_PATHS or not os.path.isfile(full) or os.path.islink(full):
                continue
            with open(full, "rb") as f:
                if f.read(4) == b"\x7fELF":
                    continue
            files.append(path)
    return sorted(files)


def plugin_dir():
    """Where the built ddoscoo.so is: libtool's .libs in the build tree."""
    d = os.environ.get("DDOSCOO_PLUGIN_DIR", os.path.join(REPO, ".libs"))
    if not os.path.isfile(os.path.join(d, "ddoscoo.so")):
        pytest.fail("ddoscoo.so not found in %s: build the plugin first" % d)
    return d


def wait_for(predicate, timeout, what, step=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(step)
    raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))


class Simulator:
    """The API simulator as a subprocess on a free loopback port; with a
    "metadata" section in the scenario, also the ECS metadata service, on
    another (metadata_url). prefix runs it behind a command (nsenter into a
    test's network namespace), args are more simulator options."""

    def __init__(self, workdir, scenario, name="sim", tls=None, prefix=(), args=()):
        self.dir = workdir
        self.log_path = os.path.join(workdir, name + "-requests.jsonl")
        config = os.path.join(workdir, name + "-scenario.json")
        port_file = os.path.join(workdir, name + ".port")
        with open(config, "w") as f:
            json.dump(scenario, f)
        cmd = ["/usr/bin/python3", SIMULATOR, "--config", config,
               "--log", self.log_path, "--port", "0", "--port-file", port_file]
        if tls:
            cmd += ["--tls-cert", tls[0], "--tls-key", tls[1]]
        metadata_port_file = os.path.join(workdir, name + ".metadata-port")
        if "metadata" in scenario:
            cmd += ["--metadata-port-file", metadata_port_file]
        cmd += list(args)
        self.stderr = open(os.path.join(workdir, name + ".stderr"), "w")
        self.proc = subprocess.Popen(list(prefix) + cmd, stdout=subprocess.DEVNULL,
                                     stderr=self.stderr)
        self.port = int(wait_for(lambda: self._read(port_file), 10, "the simulator's port"))
        self.url = "%s://127.0.0.1:%d" % ("https" if tls else "http", self.port)
        # Written before the API's port file.
        self.metadata_url = ("http://127.0.0.1:%s" % self._read(metadata_port_file)
                             if "metadata" in scenario else None)

    @staticmethod
    def _read(path):
        try:
            with open(path) as f:
                return f.read().strip()
        except FileNotFoundError:
            return None

    def requests(self):
        """Every logged request, oldest first."""
        try:
            with open(self.log_path) as f:
                return [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def control(self, what, body):
        """POST /_sim/<what> with a JSON body: faults, keys, metadata."""
        req = urllib.request.Request("%s/_sim/%s" % (self.url, what),
                                     data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert resp.status == 200

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.stderr.close()


class Collectd:
    """collectd -f with a generated configuration: logfile, csv and rrdtool
    from the stock plugin directory, ddoscoo from the build tree.

    extra_config is appended to the configuration as it is (more stock
    plugins, e.g. write_graphite or network, with their <Plugin> blocks);
    ddoscoo_dir loads ddoscoo.so from that directory instead of the build
    tree (an installed copy); prefix runs collectd behind a command (such
    as valgrind); rrd=False leaves rrdtool out; print_severity=True puts
    each line's level ("[warning]") after its time stamp."""

    def __init__(self, workdir, plugin_config, interval=10, env=None, hostname="e2e-host",
                 extra_config="", ddoscoo_dir=None, prefix=(), rrd=True,
                 print_severity=False):
        self.dir = workdir
        self.log_path = os.path.join(workdir, "collectd.log")
        self.csv_dir = os.path.join(workdir, "csv")
        self.rrd_dir = os.path.join(workdir, "rrd")
        self.hostname = hostname
        conf = os.path.join(workdir, "collectd.conf")
        with open(conf, "w") as f:
            f.write("""Hostname "{host}"
FQDNLookup false
BaseDir "{dir}"
PIDFile "{dir}/collectd.pid"
Interval {interval}
TypesDB "{types}"
PluginDir "{stock}"
LoadPlugin logfile
<Plugin logfile>
  LogLevel info
  File "{log}"
  Timestamp true
{severity}</Plugin>
LoadPlugin csv
<Plugin csv>
  DataDir "{csv}"
</Plugin>
{rrdtool}PluginDir "{build}"
LoadPlugin ddoscoo
PluginDir "{stock}"
<Plugin ddoscoo>
{blocks}
</Plugin>
{extra}
""".format(host=hostname, dir=workdir, interval=interval, types=TYPES_DB,
           stock=STOCK_PLUGIN_DIR, log=self.log_path, csv=self.csv_dir,
           build=ddoscoo_dir or plugin_dir(), blocks=plugin_config, extra=extra_config,
           severity="  PrintSeverity true\n" if print_severity else "",
           rrdtool=('LoadPlugin rrdtool\n<Plugin rrdtool>\n  DataDir "%s"\n</Plugin>\n'
                    % self.rrd_dir) if rrd else ""))
        # HOME: no ~/.alibabacloud/credentials of the machine's user.
        full_env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C", "HOME": workdir}
        full_env.update(env or {})
        self.stdout = open(os.path.join(workdir, "collectd.stdout"), "w")
        self.proc = subprocess.Popen(list(prefix) + [COLLECTD, "-f", "-C", conf],
                                     env=full_env, stdout=self.stdout,
                                     stderr=subprocess.STDOUT)
        wait_for(lambda: "entering read-loop" in self.log() or self.proc.poll() is not None,
                 120 if prefix else 30, "collectd to start")
        assert self.proc.poll() is None, "collectd exited at start:\n" + self.log()

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def log_lines(self, *fragments):
        return [l for l in self.log().splitlines() if all(f in l for f in fragments)]

    def alive(self):
        return self.proc.poll() is None

    def lost_values(self):
        """Log lines of values that collectd or a write plugin refused: a
        value of a series older than one it already has (write threads
        that reordered a catch-up), or one that reached a file while
        another thread created it."""
        return [l for l in self.log().splitlines()
                if any(f in l for f in ("Value too old", "value too old",
                                        "already being created", "illegal attempt"))]

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def stop(self, timeout=30):
        """SIGTERM, as an init system would; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stdout.close()
        return self.proc.returncode

    # Stored data -----------------------------------------------------------

    def series_dir(self, plugin_instance, store="csv", host=None):
        base = self.csv_dir if store == "csv" else self.rrd_dir
        return os.path.join(base, host or self.hostname, "ddoscoo-" + plugin_instance)

    def csv_points(self, plugin_instance, type_and_instance, host=None):
        """{epoch: value} from the csv plugin's daily files of one series."""
        d = self.series_dir(plugin_instance, "csv", host)
        points = {}
        if not os.path.isdir(d):
            return points
        for name in sorted(os.listdir(d)):
            if not name.startswith(type_and_instance + "-"):
                continue
            with open(os.path.join(d, name)) as f:
                for line in f:
                    if line.startswith("epoch"):
                        continue
                    t, v = line.strip().split(",")
                    points[int(float(t))] = float(v)
        return points

    def rrd_file(self, plugin_instance, type_and_instance, host=None):
        return os.path.join(self.series_dir(plugin_instance, "rrd", host),
                            type_and_instance + ".rrd")


def rrd_fetch(path, start, end):
    """{epoch: value or None} from `rrdtool fetch path AVERAGE`."""
    out = subprocess.run(["rrdtool", "fetch", path, "AVERAGE", "-s", str(start), "-e", str(end)],
                         check=True, capture_output=True, text=True).stdout
    points = {}
    for line in out.splitlines():
        if ":" not in line:
            continue
        t, v = line.split(":", 1)
        v = v.strip()
        points[int(t)] = None if "nan" in v.lower() else float(v)
    return points


def rrd_info(path):
    out = subprocess.run(["rrdtool", "info", path], check=True,
                         capture_output=True, text=True).stdout
    info = {}
    for line in out.splitlines():
        k, _, v = line.partition(" = ")
        info[k] = v.strip('"')
    return info


# What each API field becomes: (collectd type-type_instance, API field).
# Series of each statistic (README "What is dispatched"): (type-type
# instance, API field).
METRICS = [
    ("current_connections-concurrent", "Conns"),
    ("current_connections-active", "ActConns"),
    ("current_connections-inactive", "InActConns"),
    ("operations_per_second-new_connections", "Cps"),
]
TRAFFIC = [("gauge-in_bps", "InBps"), ("gauge-out_bps", "OutBps"),
           ("gauge-attack_bps", "AttackBps"), ("operations_per_second-in_packets", "InPps"),
           ("operations_per_second-out_packets", "OutPps"),
           ("operations_per_second-attack_packets", "AttackPps")]
QPS = [("operations_per_second-total", "TotalQps"),
       ("operations_per_second-attack", "AttackQps"),
       ("operations_per_second-peak_total", "MaxQps"),
       ("operations_per_second-peak_normal", "MaxNormalQps"),
       ("operations_per_second-peak_attack", "MaxAttackQps"),
       ("count-cache_hits", "CacheHits"), ("count-requests", "TotalCount")]
# status_codes: count-edge_<code> and count-origin_<code>, from Status<CODE>.
STATUS_CODES = [(code.lower(), "Status" + code) for code in (
    "2XX", "3XX", "4XX", "5XX", "200", "403", "404", "405", "410", "499", "501", "502",
    "503", "504")]


def expected_values(instance_ids, port, end, window=60, attack=None):
    """What the simulator answers for a window; attack: the scenario's
    attack section as check_attack resolves it (connections rise with it)."""
    return ddoscoo_sim.values_for(list(instance_ids), port, end - window, end, attack=attack)


def block(name, *lines):
    """An <Account> block."""
    return '<Account "%s">\n%s\n</Account>' % (name, "\n".join("  " + l for l in lines))


# Tests of a mechanism (faults, limits, backfill, discovery) watched on the
# per-port connections ask only for them: the simulator's per-instance
# faults are DescribePortConnsCount's, and the requests counted are its.
# test_default_credentials and the statistics' own modules use the default.
CONNECTIONS = 'Statistics "connections"'


def connections_block(name, *lines):
    """An <Account> block that polls the per-port connections only."""
    return block(name, CONNECTIONS, *lines)


def make_cert(d):
    """A self-signed certificate for 127.0.0.1: (cert, key) paths."""
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


# Sockets of closed_port(), bound for as long as the tests run.
_CLOSED_PORTS = []


def closed_port():
    """A loopback port nothing listens on: bound, never listening, so that
    connections are refused and no test running alongside (pytest-xdist)
    can take the port meanwhile."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    _CLOSED_PORTS.append(s)
    return s.getsockname()[1]


@pytest.fixture
def workdir(tmp_path):
    return str(tmp_path)


# About how long each module takes at most (pytest --durations; those that
# wait for minute boundaries vary). ./run-tests.sh runs modules side by
# side (pytest-xdist, --dist loadfile) and xdist hands them out in
# collection order: sorted by these, the longest waits start first. A
# module not named here counts as UNKNOWN_MODULE_SECONDS.
MODULE_SECONDS = {
    "test_quota.py": 250, "test_statistic_health.py": 190,
    "test_fleet.py": 200, "test_memory.py": 165, "test_scale.py": 165,
    "test_refusal_backoff.py": 190, "test_backfill.py": 130, "test_ram_role.py": 130, "test_state_file.py": 125,
    "test_discovery.py": 100, "test_traffic.py": 95, "test_attack_script.py": 90,
    "test_blackhole.py": 90, "test_events.py": 90, "test_write_backends.py": 80,
    "test_web.py": 70, "test_victoria_metrics.py": 65, "test_batch.py": 75, "test_names.py": 150, "test_plan.py": 130, "test_read_deadline.py": 50, "test_prometheus.py": 60, "test_fuzz.py": 40,
    "test_threshold.py": 30, "test_prometheus_rules.py": 15, "test_cc_events.py": 10,
    "test_debian_package.py": 25, "test_readme_config.py": 5, "test_simulator.py": 25, "test_default_credentials.py": 15,
    "test_concurrency.py": 5, "test_config.py": 5, "test_credentials.py": 5,
    "test_shutdown.py": 5, "test_docs.py": 2,
}
UNKNOWN_MODULE_SECONDS = 60


def pytest_collection_modifyitems(items):
    def seconds(item):
        return MODULE_SECONDS.get(item.path.name, UNKNOWN_MODULE_SECONDS)
    items.sort(key=seconds, reverse=True)  # stable: a module's tests stay in order
