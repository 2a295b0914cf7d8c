#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs, from Debian's packages, what building the plugin, the demo and
# the test suite need, also on a bare system (debootstrap --variant=minbase):
# besides compilers and collectd, the commands the tests run: rrdtool,
# openssl, dpkg-buildpackage, lintian, man, podchecker and pod2man (perl),
# valgrind, clang, promtool and prometheus, influxd, carbon-cache and
# whisper-fetch, victoria-metrics and vmalert (the package enables its
# service; the tests run their own, on loopback), ip (iproute2: the
# simulator's loopback addresses),
# unshare and nsenter (util-linux), mount, and awk for demo.sh. No test
# needs git: a release tarball has no .git. Does nothing when everything is
# there already.
set -eu

PACKAGES="build-essential autoconf automake libtool pkg-config
  collectd-core collectd-dev libcurl4-openssl-dev libssl-dev libxml2-dev
  rrdtool python3 python3-pytest python3-pytest-xdist openssl ca-certificates
  graphite-carbon python3-whisper influxdb
  debhelper dpkg-dev fakeroot lintian perl man-db
  clang libclang-rt-14-dev valgrind
  prometheus python3-yaml libmicrohttpd12 libprotobuf-c1 victoria-metrics
  iproute2 util-linux mount mawk"

missing=""
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "ok installed" ||
    missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
  echo "install-deps: missing packages:$missing" >&2
  echo "install-deps: run as root, or: apt-get install$missing" >&2
  exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# --no-install-recommends: collectd-core recommends dozens of libraries for
# plugins we never load. Those of the plugins we do load are listed:
# libmicrohttpd12 and libprotobuf-c1 for write_prometheus.
apt-get install -y -qq --no-install-recommends $missing >/dev/null
