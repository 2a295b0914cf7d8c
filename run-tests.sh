#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds the plugin and runs every test: the unit tests of the pure modules
# (make check), make distcheck (beside the rest), the API simulator's own
# tests, the end-to-end tests in which the real collectd loads the plugin
# and short fuzzing runs of the parser and the signing code (tests/fuzz).
# Installs missing Debian packages first (needs root for that).
set -eu
cd "$(dirname "$0")"

tests/install-deps.sh
[ -f configure ] || autoreconf -fi
[ -f Makefile ] || ./configure --quiet
make -j2
make -j2 check
# make distcheck runs beside the tests below, which mostly wait for
# collectd's reads and for minute boundaries.
distcheck=
if [ "${DDOSCOO_SKIP_DISTCHECK:-}" != 1 ]; then
  make -j2 distcheck >distcheck.log 2>&1 &
  distcheck=$!
fi
# The end-to-end tests: six modules at a time (pytest-xdist; --dist
# loadfile keeps a module and its fixtures on one worker; the longest start
# first, see tests/e2e/conftest.py). Every test uses its own directory and
# ports.
status=0
/usr/bin/python3 -m pytest -p no:cacheprovider -q \
  -n "${DDOSCOO_TEST_WORKERS:-6}" --dist loadfile \
  tests/simulator tests/e2e tests/fuzz "$@" || status=$?
if [ -n "$distcheck" ]; then
  if wait "$distcheck"; then
    echo "run-tests: make distcheck passed"
  else
    tail -40 distcheck.log
    echo "run-tests: make distcheck failed (distcheck.log)" >&2
    status=1
  fi
fi
exit "$status"
