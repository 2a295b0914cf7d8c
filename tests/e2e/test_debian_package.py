# SPDX-License-Identifier: MIT
"""The Debian package as a user gets it: dpkg-buildpackage builds it from a
copy of the source tree (the checkout stays clean), lintian finds no
error, and the real collectd loads the plugin from the package's files
(unpacked with dpkg -x into a scratch root) and stores the simulator's
values."""

import glob
import os
import re
import shutil
import subprocess

import pytest

from conftest import (METRICS, REPO, Collectd, Simulator, expected_values, project_files,
                      wait_for)

KEY_ID, SECRET = "LTAIdebE2E", "SECRET-deb-3e1f"
INSTANCE = "ddoscoo-cn-deb00001"
PACKAGE = "collectd-ddoscoo"


def run(argv, **kw):
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw).stdout


def configure_version():
    with open(os.path.join(REPO, "configure.ac")) as f:
        return re.search(r"AC_INIT\(\[collectd-ddoscoo\], \[([^\]]+)\]", f.read()).group(1)


class Build:
    pass


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    for tool, package in (("dpkg-buildpackage", "dpkg-dev"), ("dh", "debhelper"),
                          ("fakeroot", "fakeroot"), ("lintian", "lintian")):
        if shutil.which(tool) is None:
            pytest.fail("%s not found: install Debian's %s (tests/install-deps.sh)"
                        % (tool, package))
    d = str(tmp_path_factory.mktemp("debian"))
    src = os.path.join(d, PACKAGE)
    # The project's files, from a walk of the tree: a clone or a release
    # tarball, no git needed; no build products.
    for path in project_files():
        origin = os.path.join(REPO, path)
        os.makedirs(os.path.dirname(os.path.join(src, path)), exist_ok=True)
        shutil.copy2(origin, os.path.join(src, path), follow_symlinks=False)

    b = Build()
    b.dir = d
    b.log_path = os.path.join(d, "dpkg-buildpackage.log")
    env = dict(os.environ)
    # make check has run the unit tests already; parallel for 2 cores.
    env.update({"DEB_BUILD_OPTIONS": "nocheck parallel=2", "LANG": "C.UTF-8"})
    env.pop("MAKEFLAGS", None)
    env.pop("MFLAGS", None)
    with open(b.log_path, "w") as log:
        status = subprocess.run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src, env=env,
                                stdout=log, stderr=subprocess.STDOUT).returncode
    with open(b.log_path) as f:
        b.log = f.read()
    assert status == 0, b.log[-4000:]
    b.arch = run(["dpkg", "--print-architecture"]).strip()
    b.version = configure_version()
    b.debs = sorted(os.path.basename(p) for p in glob.glob(os.path.join(d, "*.deb")))
    b.deb = os.path.join(d, "%s_%s_%s.deb" % (PACKAGE, b.version, b.arch))
    b.changes = os.path.join(d, "%s_%s_%s.changes" % (PACKAGE, b.version, b.arch))
    b.root = os.path.join(d, "root")
    if os.path.exists(b.deb):
        run(["dpkg", "-x", b.deb, b.root])
    return b


def test_package_is_named_after_configure_version(build):
    assert os.path.isfile(build.deb), build.debs
    assert run(["dpkg-deb", "-f", build.deb, "Package"]).strip() == PACKAGE
    assert run(["dpkg-deb", "-f", build.deb, "Version"]).strip() == build.version
    with open(os.path.join(REPO, "debian", "changelog")) as f:
        assert f.readline().startswith("%s (%s) " % (PACKAGE, build.version))


def test_package_depends_on_collectd_core_and_its_libraries(build):
    depends = [d.strip() for d in run(["dpkg-deb", "-f", build.deb, "Depends"]).split(",")]
    names = {d.split()[0] for d in depends}
    assert "collectd-core" in names, depends
    # dh_shlibdeps found the libraries the plugin links.
    assert {"libcurl4", "libxml2", "libssl3"} <= names, depends


def test_package_contents(build):
    listing = run(["dpkg-deb", "-c", build.deb])
    files = {line.split()[-1].lstrip(".") for line in listing.splitlines()
             if line.startswith("-")}
    expected = {
        "/usr/lib/collectd/ddoscoo.so",
        "/usr/share/man/man5/collectd-ddoscoo.5.gz",
        "/usr/share/doc/collectd-ddoscoo/copyright",
        "/usr/share/doc/collectd-ddoscoo/changelog.gz",
        "/usr/share/doc/collectd-ddoscoo/examples/ddoscoo.conf",
        "/usr/share/doc/collectd-ddoscoo/examples/ram-policy.json",
        "/usr/share/doc/collectd-ddoscoo/examples/grafana-ddoscoo-graphite.json",
        "/usr/share/doc/collectd-ddoscoo/examples/grafana-ddoscoo-influxdb.json",
        "/usr/share/doc/collectd-ddoscoo/examples/threshold-ddoscoo.conf",
        "/usr/share/doc/collectd-ddoscoo/examples/write-prometheus.conf",
        "/usr/share/doc/collectd-ddoscoo/examples/prometheus-ddoscoo-scrape.yml",
        "/usr/share/doc/collectd-ddoscoo/examples/prometheus-ddoscoo-rules.yml",
        "/usr/share/doc/collectd-ddoscoo/examples/grafana-ddoscoo-prometheus.json",
        "/usr/share/doc/collectd-ddoscoo/examples/collectd-victoria-metrics.conf",
        "/usr/share/doc/collectd-ddoscoo/examples/victoria-metrics.default",
        "/usr/share/doc/collectd-ddoscoo/examples/victoria-metrics-relabel.yml",
        "/usr/share/doc/collectd-ddoscoo/storage.md.gz",
    }
    assert expected <= files, sorted(files)
    assert not [f for f in files if f.endswith((".la", ".a"))], sorted(files)
    with open(os.path.join(REPO, "conf", "ddoscoo.conf"), "rb") as f:
        example = f.read()
    with open(os.path.join(build.root, "usr/share/doc/collectd-ddoscoo/examples/ddoscoo.conf"),
              "rb") as f:
        assert f.read() == example


def test_lintian_finds_no_errors(build):
    r = subprocess.run(["lintian", "--fail-on", "error", "--display-info", build.changes],
                       capture_output=True, text=True)
    tags = [l for l in r.stdout.splitlines() if re.match(r"^[EWIPX]: ", l)]
    with open(os.path.join(build.dir, "lintian.txt"), "w") as f:
        f.write(r.stdout + r.stderr)
    assert r.returncode == 0, r.stdout + r.stderr
    assert not [t for t in tags if t.startswith("E: ")], tags
    assert len([t for t in tags if t.startswith("W: ")]) <= 3, tags


def test_installed_man_page_renders(build):
    r = subprocess.run(["man", "--warnings", "-l",
                        os.path.join(build.root, "usr/share/man/man5/collectd-ddoscoo.5.gz")],
                       capture_output=True, text=True,
                       env={"PATH": "/usr/bin:/bin", "MANWIDTH": "80", "LANG": "C.UTF-8"})
    assert r.returncode == 0 and r.stderr == "", r.stderr
    text = re.sub(".\b", "", r.stdout)
    assert text.startswith("COLLECTD-DDOSCOO(5)")
    assert "collectd-ddoscoo %s" % build.version in text


def test_installed_plugin_stores_values(build, tmp_path):
    plugin_dir = os.path.join(build.root, "usr", "lib", "collectd")
    assert os.path.isfile(os.path.join(plugin_dir, "ddoscoo.so"))
    d = str(tmp_path)
    sim = Simulator(d, {"keys": {KEY_ID: {"secret": SECRET}}, "instances": [INSTANCE]})
    cd = None
    try:
        cd = Collectd(d, """<Account "pkg">
  AccessKeyId "%s"
  AccessKeySecret "%s"
  Endpoint "%s"
  InstanceId "%s"
  Port "443"
  Interval 2
</Account>""" % (KEY_ID, SECRET, sim.url, INSTANCE), interval=10, ddoscoo_dir=plugin_dir)
        pi = INSTANCE + "_443"
        # The window due at start is fetched at once.
        wait_for(lambda: all(cd.csv_points(pi, m) for m, _ in METRICS) or not cd.alive(), 60,
                 "the first window in csv")
    finally:
        if cd is not None:
            status = cd.stop()
        sim.stop()
    assert status == 0, cd.log()
    log = cd.log()
    assert 'plugin_load: plugin "ddoscoo" successfully loaded.' in log
    assert plugin_dir in open(os.path.join(d, "collectd.conf")).read()
    for metric, field in METRICS:
        points = cd.csv_points(pi, metric)
        assert points, (metric, log)
        for t, v in points.items():
            assert t % 60 == 0
            assert v == expected_values([INSTANCE], "443", t)[field], (metric, t)
