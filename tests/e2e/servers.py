# SPDX-License-Identifier: MIT
"""Real write backends for the end-to-end tests, each run privately from
Debian's packages: carbon-cache (graphite-carbon) writing whisper files,
and influxd 1.x (influxdb) with its collectd input. Everything listens on
127.0.0.1 at free ports and keeps its data under the test's directory."""

import json
import os
import re
import socket
import subprocess
import urllib.parse
import urllib.request

import pytest

from conftest import TYPES_DB, wait_for

CARBON_CACHE = "/usr/bin/carbon-cache"
WHISPER_FETCH = "/usr/bin/whisper-fetch"
INFLUXD = "/usr/bin/influxd"


def require(path, package):
    """A backend that is not installed is a failure, never a skip:
    tests/install-deps.sh installs it."""
    if not os.access(path, os.X_OK):
        pytest.fail("%s not found: install Debian's %s (tests/install-deps.sh)" % (path, package))


def free_port(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def accepts(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def _stop(proc, log):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    log.close()


class CarbonCache:
    """carbon-cache in the foreground, every path under workdir, line
    receiver on a free loopback port, one minute per point for the ddoscoo
    series, no tag database, no self-reporting."""

    def __init__(self, workdir, name="carbon"):
        require(CARBON_CACHE, "graphite-carbon")
        require(WHISPER_FETCH, "python3-whisper")
        self.dir = os.path.join(workdir, name)
        self.storage = os.path.join(self.dir, "storage")
        self.whisper_dir = os.path.join(self.storage, "whisper")
        os.makedirs(self.whisper_dir)
        self.port = free_port()
        conf = os.path.join(self.dir, "carbon.conf")
        with open(conf, "w") as f:
            f.write("""[cache]
STORAGE_DIR = {storage}/
LOCAL_DATA_DIR = {whisper}/
WHITELISTS_DIR = {storage}/lists/
CONF_DIR = {dir}/
LOG_DIR = {dir}/log/
PID_DIR = {dir}/
USER =
ENABLE_TAGS = False
CARBON_METRIC_INTERVAL = 0
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = inf
MAX_CREATES_PER_MINUTE = inf
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = {line}
ENABLE_UDP_LISTENER = False
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = {pickle}
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = {query}
LOG_CREATES = True
LOG_LISTENER_CONN_SUCCESS = False
""".format(storage=self.storage, whisper=self.whisper_dir, dir=self.dir,
                       line=self.port, pickle=free_port(), query=free_port()))
        # Only the first matching section applies; the second catches
        # anything unexpected, at a different step so that it shows.
        with open(os.path.join(self.dir, "storage-schemas.conf"), "w") as f:
            f.write("[ddoscoo]\npattern = ^[^.]+\\.ddoscoo[-.]\nretentions = 60s:1d\n\n"
                    "[other]\npattern = .*\nretentions = 10s:1h\n")
        self.log = open(os.path.join(self.dir, "carbon-cache.log"), "w")
        self.proc = subprocess.Popen(
            [CARBON_CACHE, "--config=" + conf, "--nodaemon", "--logfile=-",
             "--pidfile=" + os.path.join(self.dir, "carbon-cache.pid"), "start"],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=self.dir,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": self.dir})
        wait_for(lambda: accepts(self.port) or self.proc.poll() is not None, 60,
                 "carbon-cache to listen")
        assert self.proc.poll() is None, "carbon-cache exited:\n" + self.read_log()

    def read_log(self):
        with open(os.path.join(self.dir, "carbon-cache.log"), errors="replace") as f:
            return f.read()

    def metrics(self):
        """Every metric with a whisper file, as a dotted Graphite path."""
        names = set()
        for root, _, files in os.walk(self.whisper_dir):
            for name in files:
                if name.endswith(".wsp"):
                    rel = os.path.relpath(os.path.join(root, name[:-4]), self.whisper_dir)
                    names.add(rel.replace(os.sep, "."))
        return names

    def path(self, metric):
        return os.path.join(self.whisper_dir, *metric.split(".")) + ".wsp"

    def fetch(self, metric, start, end):
        """{epoch: value} of the non-empty points, read as whisper-fetch
        reads them (whisper.fetch, in this process: a whisper-fetch per
        series and poll would cost seconds)."""
        import whisper  # python3-whisper, whisper-fetch's own library
        (t0, _, step), values = whisper.fetch(self.path(metric), start, end)
        return {t0 + i * step: v for i, v in enumerate(values) if v is not None}

    def info(self, metric):
        """The file's header, as whisper-info shows it (whisper.info)."""
        import whisper
        return whisper.info(self.path(metric))

    def stop(self):
        _stop(self.proc, self.log)


class InfluxDB:
    """influxd 1.x: meta, data and WAL under workdir, HTTP and RPC on free
    loopback ports, the collectd input on a free loopback UDP port with
    the stock types.db and a one-second batch timeout."""

    def __init__(self, workdir, name="influxdb", database="collectd"):
        require(INFLUXD, "influxdb")
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir)
        self.database = database
        self.http_port = free_port()
        self.collectd_port = free_port(socket.SOCK_DGRAM)
        conf = os.path.join(self.dir, "influxd.toml")
        with open(conf, "w") as f:
            f.write("""reporting-enabled = false
bind-address = "127.0.0.1:{rpc}"

[meta]
  dir = "{dir}/meta"

[data]
  dir = "{dir}/data"
  wal-dir = "{dir}/wal"
  query-log-enabled = false

[monitor]
  store-enabled = false

[http]
  bind-address = "127.0.0.1:{http}"
  log-enabled = false
  pprof-enabled = false

[logging]
  level = "info"
  suppress-logo = true

[[collectd]]
  enabled = true
  bind-address = "127.0.0.1:{udp}"
  database = "{db}"
  typesdb = "{types}"
  batch-size = 100
  batch-timeout = "1s"
""".format(rpc=free_port(), dir=self.dir, http=self.http_port, udp=self.collectd_port,
                       db=database, types=TYPES_DB))
        self.log = open(os.path.join(self.dir, "influxd.log"), "w")
        self.proc = subprocess.Popen([INFLUXD, "-config", conf], stdout=self.log,
                                     stderr=subprocess.STDOUT, cwd=self.dir,
                                     env={"PATH": "/usr/bin:/bin", "HOME": self.dir})
        wait_for(lambda: self._ping() or self.proc.poll() is not None, 60, "influxd to answer")
        assert self.proc.poll() is None, "influxd exited:\n" + self.read_log()

    def read_log(self):
        with open(os.path.join(self.dir, "influxd.log"), errors="replace") as f:
            return f.read()

    def _ping(self):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/ping" % self.http_port,
                                        timeout=2) as r:
                return r.status == 204
        except OSError:
            return False

    def query(self, q, epoch="s"):
        """The first result of an InfluxQL query through the HTTP API."""
        url = "http://127.0.0.1:%d/query?%s" % (self.http_port, urllib.parse.urlencode(
            {"db": self.database, "q": q, "epoch": epoch}))
        with urllib.request.urlopen(url, timeout=10) as r:
            result = json.load(r)["results"][0]
        assert "error" not in result, (q, result)
        return result

    def rows(self, q):
        """[(tags, {column: value}), ...] for every row of every series."""
        out = []
        for series in self.query(q).get("series", []):
            for values in series["values"]:
                out.append((series.get("tags", {}), dict(zip(series["columns"], values))))
        return out

    def stop(self):
        _stop(self.proc, self.log)


# Graphite path expressions, as in render targets and Grafana --------------

def graphite_glob_regex(pattern):
    """A Graphite path expression (*, ?, [..], {a,b}) as a regex that
    matches whole metric names; wildcards never cross a dot."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append("[^.]*")
        elif c == "?":
            out.append("[^.]")
        elif c == "[":
            j = pattern.index("]", i)
            out.append(pattern[i:j + 1])
            i = j
        elif c == "{":
            j = pattern.index("}", i)
            out.append("(?:%s)" % "|".join(re.escape(a) for a in pattern[i + 1:j].split(",")))
            i = j
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("^%s$" % "".join(out))


def graphite_matches(pattern, metrics):
    rx = graphite_glob_regex(pattern)
    return sorted(m for m in metrics if rx.match(m))


def graphite_find(pattern, metrics):
    """The node names that Graphite's metrics/find (and so a Grafana
    template variable) lists for a path expression: the last node of every
    matching path prefix."""
    depth = pattern.count(".") + 1
    rx = graphite_glob_regex(pattern)
    prefixes = {".".join(m.split(".")[:depth]) for m in metrics if m.count(".") + 1 >= depth}
    return sorted({p.split(".")[-1] for p in prefixes if rx.match(p)})


def graphite_expand(pattern, metrics):
    """What Graphite's metrics/expand (a Grafana variable's
    expand(<pattern>)) lists: the full name of every matching metric."""
    return graphite_matches(pattern, metrics)


def _split_arguments(text):
    """Top-level arguments of a Graphite function call."""
    args, depth, quote, cur = [], 0, None, ""
    for c in text:
        if quote:
            quote = None if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c in "({":
            depth += 1
        elif c in ")}":
            depth -= 1
        elif c == "," and depth == 0:
            args.append(cur.strip())
            cur = ""
            continue
        cur += c
    args.append(cur.strip())
    return args


def series_expression(target):
    """The path expression inside a render target's functions: the first
    argument, all the way down (aliasByNode(a.b.*, 1) -> a.b.*)."""
    target = target.strip()
    while True:
        m = re.match(r"^\w+\((.*)\)$", target, re.S)
        if not m:
            return target
        target = _split_arguments(m.group(1))[0]


VICTORIA_METRICS = "/usr/bin/victoria-metrics"
VMALERT = "/usr/bin/vmalert"


class VictoriaMetrics:
    """victoria-metrics (single node) with its data under workdir, HTTP on
    a free loopback port and, as asked, the Graphite plaintext, InfluxDB
    line protocol and OpenTSDB listeners on free loopback ports (TCP and
    UDP each). flags are more command-line flags (those of
    conf/victoria-metrics.default)."""

    def __init__(self, workdir, name="victoria-metrics", listeners=("graphite",), flags=()):
        require(VICTORIA_METRICS, "victoria-metrics")
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir)
        self.http_port = free_port()
        self.url = "http://127.0.0.1:%d" % self.http_port
        self.ports = {}
        cmd = [VICTORIA_METRICS, "-storageDataPath=" + os.path.join(self.dir, "data"),
               "-httpListenAddr=127.0.0.1:%d" % self.http_port, "-loggerLevel=INFO"]
        for kind in listeners:
            # Its TCP and UDP listeners share the port: free for both.
            port = free_port()
            while not _udp_free(port):
                port = free_port()
            self.ports[kind] = port
            cmd.append("-%sListenAddr=127.0.0.1:%d" % (kind, port))
        cmd += list(flags)
        self.log = open(os.path.join(self.dir, "victoria-metrics.log"), "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     cwd=self.dir, env={"PATH": "/usr/bin:/bin", "HOME": self.dir})
        wait_for(lambda: self._health() or self.proc.poll() is not None, 60,
                 "victoria-metrics to answer")
        assert self.proc.poll() is None, "victoria-metrics exited:\n" + self.read_log()

    def read_log(self):
        with open(os.path.join(self.dir, "victoria-metrics.log"), errors="replace") as f:
            return f.read()

    def _health(self):
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def get(self, path, **params):
        url = "%s%s?%s" % (self.url, path, urllib.parse.urlencode(params, doseq=True))
        with urllib.request.urlopen(url, timeout=30) as r:
            return json.load(r)

    def query(self, promql, **params):
        """The result of a PromQL instant query through /api/v1/query."""
        return self._data("/api/v1/query", query=promql, **params)["result"]

    def _data(self, path, **params):
        answer = self.get(path, **params)
        assert answer["status"] == "success", (params, answer)
        return answer["data"]

    def query_range(self, promql, start, end, step=60):
        return self._data("/api/v1/query_range", query=promql, start=start, end=end,
                          step=step)["result"]

    def samples(self, selector, seconds):
        """{frozenset(labels): {epoch: value}} of every raw sample of the
        last `seconds`, from the range-vector query selector[seconds]."""
        data = self._data("/api/v1/query", query="%s[%ds]" % (selector, seconds))
        assert data["resultType"] == "matrix", data
        return {frozenset(s["metric"].items()): {int(t): float(v) for t, v in s["values"]}
                for s in data["result"]}

    def flush(self):
        """Makes what was ingested searchable at once (/internal/force_flush)."""
        with urllib.request.urlopen(self.url + "/internal/force_flush", timeout=10):
            pass

    def stop(self):
        _stop(self.proc, self.log)


def _udp_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()
