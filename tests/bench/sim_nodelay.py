#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The API simulator (tests/simulator/ddoscoo_sim.py) with TCP_NODELAY on
its accepted connections, for the benchmark only.

Python's http.server writes a response's head and body in two send()s;
with Nagle's algorithm on (socketserver's default) the body then waits for
the client's delayed ACK, about 40 ms on Linux loopback, on every request
of a kept-alive connection. That stall would dwarf what the benchmark
measures (and the simulated latency), for both collectd set-ups alike.
Everything else is the simulator as it is; same arguments."""

import os
import sys

sys.dont_write_bytecode = True   # leave no __pycache__ in tests/simulator
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "simulator"))

import ddoscoo_sim  # noqa: E402

for name in ("Handler", "MetadataHandler"):
    cls = getattr(ddoscoo_sim, name, None)
    if cls is not None:
        cls.disable_nagle_algorithm = True

if __name__ == "__main__":
    sys.exit(ddoscoo_sim.main())
